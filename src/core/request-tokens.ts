import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'
import type { Clock } from './clock.js'
import { HEX_40, type RandomSource } from './secrets.js'
import type { DerivedSecret, SigningKeys } from './signing-keys.js'
import type { IssuedRequestToken } from './store.js'

// A v3 request token is 20 bytes (40 lowercase hex, TMDB's format) that look like 160 random bits to
// anyone without the secret: clients and checkers compare tokens, and a visible key tag or expiry
// would give every token of a key, or of a minute, the same prefix. Inside, a 12-byte header
// [1: key tag][4: expiry, unix seconds][7: random] says which key issued the token and until when.
// The last 8 bytes are a MAC over the format version, that header and the application's id; the
// first 12 are the header XORed with a mask that is a PRF of the MAC. As the MAC is itself a PRF
// output over fresh random bytes, mask and MAC are both indistinguishable from random, and so is
// the token (two tokens reveal anything only if their 64-bit MACs collide). Verifying recomputes the
// mask from the MAC, unmasks the header and checks it and the MAC: nothing is stored until a person
// or the client acts on the token. MAC and mask use two keys derived from each signing key.
const FORMAT_VERSION = 2
const TOKEN_BYTES = 20
const HEADER_BYTES = 12
const EXPIRY_OFFSET = 1
const RANDOM_OFFSET = 5
const MAC_BYTES = TOKEN_BYTES - HEADER_BYTES
const PURPOSE = 'v3 request token'
// How far ahead of this instance's clock another instance's may be, for `plausible`.
const CLOCK_SKEW_ALLOWANCE_MS = 15 * 60 * 1000

interface TokenKeys {
  tag: number
  mac: Buffer
  mask: Buffer
}

// The MAC and mask keys of each derived secret (derived secrets are cached objects that never change).
const tokenKeysBySecret = new WeakMap<DerivedSecret, TokenKeys>()

function tokenKeysOf(secret: DerivedSecret): TokenKeys {
  let keys = tokenKeysBySecret.get(secret)
  if (!keys) {
    const derive = (info: string) => Buffer.from(hkdfSync('sha256', secret.secret, Buffer.alloc(0), `cinepass ${PURPOSE} ${info}`, 32))
    keys = { tag: secret.tag, mac: derive('mac'), mask: derive('mask') }
    tokenKeysBySecret.set(secret, keys)
  }
  return keys
}

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
    const keys = tokenKeysOf(key)
    const header = Buffer.alloc(HEADER_BYTES)
    header[0] = keys.tag
    header.writeUInt32BE(expirySeconds, EXPIRY_OFFSET)
    this.random.bytes(HEADER_BYTES - RANDOM_OFFSET).copy(header, RANDOM_OFFSET)
    const mac = macOf(keys, header, appId)
    const bytes = Buffer.concat([xor(header, maskOf(keys, mac)), mac])
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
   * True when `token`, unmasked under a live key, has that key's tag and an expiry we could have
   * given it (now or within the lifetime ahead, with room for clocks of instances that differ a
   * little). A random string almost never has: only such a token is worth re-reading what it is
   * checked against.
   */
  async plausible(token: string): Promise<boolean> {
    if (!HEX_40.test(token)) return false
    const bytes = Buffer.from(token, 'hex')
    const now = this.clock.now()
    let found = false
    for (const key of await this.keys.derivedSecrets(PURPOSE)) {
      const { tagMatches, expirySeconds } = headerOf(tokenKeysOf(key), bytes)
      const expiresAt = expirySeconds * 1000
      found = (tagMatches && expiresAt > now && expiresAt <= now + this.ttlMs + CLOCK_SKEW_ALLOWANCE_MS) || found
    }
    return found
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
   * Every live key and every application is tried whatever the token, so the time taken does not
   * depend on what a key's mask makes of the token.
   */
  async identify<A extends string>(token: string, appIds: readonly A[]): Promise<{ appId: A; issued: IssuedRequestToken } | null> {
    if (!HEX_40.test(token)) return null
    const bytes = Buffer.from(token, 'hex')
    const found = this.#identifyUnder(await this.keys.derivedSecrets(PURPOSE), bytes, appIds)
    if (found) return found
    // A key made by another instance a moment ago is not in this one's list yet.
    return this.#identifyUnder(await this.keys.derivedSecrets(PURPOSE, true), bytes, appIds)
  }

  #identifyUnder<A extends string>(keys: readonly DerivedSecret[], bytes: Buffer, appIds: readonly A[]): { appId: A; issued: IssuedRequestToken } | null {
    const mac = bytes.subarray(HEADER_BYTES)
    const now = this.clock.now()
    let found: { appId: A; issued: IssuedRequestToken } | null = null
    for (const secret of keys) {
      const tokenKeys = tokenKeysOf(secret)
      const { header, tagMatches, expirySeconds } = headerOf(tokenKeys, bytes)
      const live = expirySeconds * 1000 > now
      for (const appId of appIds) {
        const macMatches = timingSafeEqual(macOf(tokenKeys, header, appId), mac)
        if (macMatches && tagMatches && live && !found) found = { appId, issued: this.#issued(appId, expirySeconds) }
      }
    }
    return found
  }

  #issued(appId: string, expirySeconds: number): IssuedRequestToken {
    const expiresAt = expirySeconds * 1000
    return { appId, createdAt: expiresAt - this.ttlMs, expiresAt }
  }
}

function macOf(keys: TokenKeys, header: Buffer, appId: string): Buffer {
  return createHmac('sha256', keys.mac).update(Uint8Array.of(FORMAT_VERSION)).update(header).update(appId).digest().subarray(0, MAC_BYTES)
}

function maskOf(keys: TokenKeys, mac: Buffer): Buffer {
  return createHmac('sha256', keys.mask).update(mac).digest().subarray(0, HEADER_BYTES)
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length)
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!
  return out
}

/** The header of `token` as unmasked under `keys`, whether it names that key, and its expiry. */
function headerOf(keys: TokenKeys, token: Buffer): { header: Buffer; tagMatches: boolean; expirySeconds: number } {
  const header = xor(token.subarray(0, HEADER_BYTES), maskOf(keys, token.subarray(HEADER_BYTES)))
  return { header, tagMatches: header[0] === keys.tag, expirySeconds: header.readUInt32BE(EXPIRY_OFFSET) }
}
