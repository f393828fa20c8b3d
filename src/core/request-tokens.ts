import { createHmac, timingSafeEqual } from 'node:crypto'
import type { Clock } from './clock.js'
import { HEX_40, type RandomSource } from './secrets.js'
import type { DerivedSecret, SigningKeys } from './signing-keys.js'
import type { IssuedRequestToken } from './store.js'

// The layout of a v3 request token's 20 bytes (40 lowercase hex, TMDB's format):
// [1: key tag][4: expiry, unix seconds][7: random][8: MAC]. The MAC covers the format version, the
// first 12 bytes and the application's id, under a secret derived from a signing key, so a token
// proves by itself which application it was issued to and until when: nothing is stored until a
// person or the client acts on it.
const FORMAT_VERSION = 1
const TOKEN_BYTES = 20
const SIGNED_BYTES = 12
const EXPIRY_OFFSET = 1
const RANDOM_OFFSET = 5
const MAC_BYTES = TOKEN_BYTES - SIGNED_BYTES
const PURPOSE = 'v3 request token'
// How far ahead of this instance's clock another instance's may be, for `plausible`.
const CLOCK_SKEW_ALLOWANCE_MS = 15 * 60 * 1000

/**
 * Issues and verifies self-verifying v3 request tokens. A token verifies under a live signing key
 * (rotated and retired with the others; a retired key's tokens stop verifying), for the one
 * application it was issued to, until its expiry. The comparison is constant-time.
 */
export class RequestTokenCodec {
  // How many tokens this instance issued, by expiry second (a pending token is counted nowhere else).
  readonly #issuedByExpiry = new Map<number, number>()

  constructor(
    private readonly keys: SigningKeys,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly ttlMs: number,
  ) {}

  /** A new token of `appId`, valid for the request-token lifetime (at least; expiry is kept in whole seconds). */
  async issue(appId: string): Promise<{ token: string; issued: IssuedRequestToken }> {
    const secrets = await this.keys.derivedSecrets(PURPOSE)
    let key = secrets.at(-1)
    if (!key) {
      // A database whose every key is retired (or a first start racing the CLI): make one, as signing does.
      await this.keys.ensureKey()
      key = (await this.keys.derivedSecrets(PURPOSE, true)).at(-1)
    }
    if (!key) throw new Error('no live signing key')
    const now = this.clock.now()
    const expirySeconds = Math.ceil((now + this.ttlMs) / 1000)
    const bytes = Buffer.alloc(TOKEN_BYTES)
    bytes[0] = key.tag
    bytes.writeUInt32BE(expirySeconds, EXPIRY_OFFSET)
    this.random.bytes(SIGNED_BYTES - RANDOM_OFFSET).copy(bytes, RANDOM_OFFSET)
    macOf(key, bytes, appId).copy(bytes, SIGNED_BYTES)
    this.#issuedByExpiry.set(expirySeconds, (this.#issuedByExpiry.get(expirySeconds) ?? 0) + 1)
    return { token: bytes.toString('hex'), issued: this.#issued(appId, expirySeconds) }
  }

  /** How many tokens this instance issued that have not expired yet, whatever became of them (for metrics). */
  issuedLive(): number {
    const now = this.clock.now()
    let live = 0
    for (const [expirySeconds, count] of this.#issuedByExpiry) {
      if (expirySeconds * 1000 > now) live += count
      else this.#issuedByExpiry.delete(expirySeconds)
    }
    return live
  }

  /**
   * True when `token` has the form of one of ours and an expiry we could have given it (now or
   * within the lifetime ahead, with room for clocks of instances that differ a little). A random
   * string almost never has: only such a token is worth re-reading what it is checked against.
   */
  plausible(token: string): boolean {
    if (!HEX_40.test(token)) return false
    const expiresAt = Buffer.from(token, 'hex').readUInt32BE(EXPIRY_OFFSET) * 1000
    const now = this.clock.now()
    return expiresAt > now && expiresAt <= now + this.ttlMs + CLOCK_SKEW_ALLOWANCE_MS
  }

  /**
   * What `token` proves when it is a live token issued to `appId`: null when it is not one of ours
   * (a token of the previous version, stored as a row, included), another application's, tampered
   * with, expired, or under a retired key.
   */
  async verify(token: string, appId: string): Promise<IssuedRequestToken | null> {
    return (await this.identify(token, [appId]))?.issued ?? null
  }

  /**
   * Which of `appIds` a live token of ours was issued to (its MAC is tried under each), with what it
   * proves; null as for `verify`. For the website, which must name the application from the token alone.
   */
  async identify<A extends string>(token: string, appIds: readonly A[]): Promise<{ appId: A; issued: IssuedRequestToken } | null> {
    if (!HEX_40.test(token)) return null
    const bytes = Buffer.from(token, 'hex')
    const expirySeconds = bytes.readUInt32BE(EXPIRY_OFFSET)
    if (expirySeconds * 1000 <= this.clock.now()) return null
    let candidates = (await this.keys.derivedSecrets(PURPOSE)).filter((key) => key.tag === bytes[0])
    // A key made by another instance a moment ago is not in this one's list yet.
    if (candidates.length === 0) candidates = (await this.keys.derivedSecrets(PURPOSE, true)).filter((key) => key.tag === bytes[0])
    const mac = bytes.subarray(SIGNED_BYTES)
    for (const key of candidates) {
      for (const appId of appIds) {
        if (timingSafeEqual(macOf(key, bytes, appId), mac)) return { appId, issued: this.#issued(appId, expirySeconds) }
      }
    }
    return null
  }

  #issued(appId: string, expirySeconds: number): IssuedRequestToken {
    const expiresAt = expirySeconds * 1000
    return { appId, createdAt: expiresAt - this.ttlMs, expiresAt }
  }
}

function macOf(key: DerivedSecret, token: Buffer, appId: string): Buffer {
  return createHmac('sha256', key.secret)
    .update(Uint8Array.of(FORMAT_VERSION))
    .update(token.subarray(0, SIGNED_BYTES))
    .update(appId)
    .digest()
    .subarray(0, MAC_BYTES)
}
