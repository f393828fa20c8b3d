import { hkdfSync } from 'node:crypto'
import { SignJWT, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose'
import type { Clock } from './clock.js'
import { TtlCache } from './refreshing.js'
import { hashSecret, hashSecretBytes, randomHex, type RandomSource } from './secrets.js'
import type { SigningKeyRecord, Store } from './store.js'

// Every instance re-reads the key list at least this often, so a rotation or retirement made by the
// CLI reaches all of them within a second.
const KEY_LIST_TTL_MS = 1000
// Marks a JWT an operator fixed by hand (a read access token given in fixtures); only its hash is kept.
const FIXED_TOKEN_META_PREFIX = 'fixed_jwt:'

/**
 * A secret derived from one signing key for one purpose. `tag` is one byte naming the key in a
 * compact token (two keys may share a tag: try each); `live` keys only, so a retired key's secret
 * verifies nothing.
 */
export interface DerivedSecret {
  tag: number
  secret: Buffer
}

/**
 * The HS256 keys that sign read access tokens and v4 tokens. They live in the database so every
 * instance shares them; a token names its key with `kid`; a retired key verifies nothing.
 */
export class SigningKeys {
  readonly #cache: TtlCache<'keys', SigningKeyRecord[]>
  readonly #fixed: TtlCache<string, boolean>
  // HKDF output per purpose and key: keys never change, only appear and retire. The lists are kept
  // per key list read (the cache hands out the same array until it re-reads), so a hot path pays a lookup.
  readonly #derived = new Map<string, DerivedSecret>()
  readonly #derivedLists = new WeakMap<SigningKeyRecord[], Map<string, DerivedSecret[]>>()

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {
    this.#cache = new TtlCache(clock, KEY_LIST_TTL_MS)
    this.#fixed = new TtlCache(clock, KEY_LIST_TTL_MS)
  }

  async #keys(): Promise<SigningKeyRecord[]> {
    return this.#cache.get('keys', () => this.store.listSigningKeys())
  }

  /** Makes sure a live key exists (the first start of a new database creates one). */
  async ensureKey(): Promise<void> {
    const keys = await this.store.listSigningKeys()
    if (!keys.some((key) => key.retiredAt === null)) await this.rotate()
  }

  /** Adds a new signing key; new tokens use it, older ones keep verifying with theirs. Returns its kid. */
  async rotate(): Promise<string> {
    const key: SigningKeyRecord = {
      kid: randomHex(this.random, 8),
      secret: this.random.bytes(32).toString('base64url'),
      createdAt: this.clock.now(),
      retiredAt: null,
    }
    await this.store.insertSigningKey(key)
    this.#cache.clear()
    return key.kid
  }

  /** Retires a key: every token it signed stops verifying. False for an unknown or already retired key. */
  async retire(kid: string): Promise<boolean> {
    const keys = await this.store.listSigningKeys()
    if (keys.filter((key) => key.retiredAt === null).length <= 1 && keys.some((key) => key.kid === kid && key.retiredAt === null)) {
      // Keep one live key, so the service can go on signing: rotate first.
      await this.rotate()
    }
    const retired = await this.store.retireSigningKey(kid, this.clock.now())
    this.#cache.clear()
    return retired
  }

  /** Signs `payload` with the newest live key. */
  async sign(payload: JWTPayload): Promise<string> {
    let keys = await this.#keys()
    let key = newestLive(keys)
    if (!key) {
      await this.ensureKey()
      keys = await this.store.listSigningKeys()
      key = newestLive(keys)
    }
    if (!key) throw new Error('no live signing key')
    return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: key.kid }).sign(secretOf(key))
  }

  /**
   * The verified payload of `token`, or null when it is not a JWT of ours: only HS256, a known live
   * key, a valid signature, and `nbf`/`exp` (when present) honoured against the injected clock.
   */
  async verify(token: string): Promise<JWTPayload | null> {
    let kid: string | undefined
    try {
      const header = decodeProtectedHeader(token)
      if (header.alg !== 'HS256' || typeof header.kid !== 'string') return null
      kid = header.kid
    } catch {
      return null
    }
    let key = (await this.#keys()).find((candidate) => candidate.kid === kid)
    if (!key) {
      // Another instance may have rotated a moment ago.
      this.#cache.clear()
      key = (await this.#keys()).find((candidate) => candidate.kid === kid)
    }
    if (!key) return this.#fixedPayload(token)
    if (key.retiredAt !== null) return null
    try {
      const { payload } = await jwtVerify(token, secretOf(key), {
        algorithms: ['HS256'],
        currentDate: new Date(this.clock.now()),
      })
      return payload
    } catch {
      return null
    }
  }

  /**
   * Secrets derived (HKDF-SHA-256) for `purpose` from every live signing key, newest last: for MACs
   * that, like the JWTs, every instance must share and that follow `keys rotate` and `keys retire`.
   * With `refresh`, the key list is re-read first (a token may name a key another instance has just
   * made).
   */
  async derivedSecrets(purpose: string, refresh = false): Promise<DerivedSecret[]> {
    if (refresh) this.#cache.clear()
    const keys = await this.#keys()
    let lists = this.#derivedLists.get(keys)
    if (!lists) this.#derivedLists.set(keys, (lists = new Map<string, DerivedSecret[]>()))
    let list = lists.get(purpose)
    if (!list) lists.set(purpose, (list = this.#derive(keys, purpose)))
    return list
  }

  #derive(keys: SigningKeyRecord[], purpose: string): DerivedSecret[] {
    return keys
      .filter((key) => key.retiredAt === null)
      .map((key) => {
        const name = `${purpose}\0${key.kid}`
        let derived = this.#derived.get(name)
        if (!derived) {
          const secret = Buffer.from(hkdfSync('sha256', secretOf(key), Buffer.alloc(0), `cinepass ${purpose}`, 32))
          derived = { tag: hashSecretBytes(key.kid)[0]!, secret }
          this.#derived.set(name, derived)
        }
        return derived
      })
  }

  /**
   * Makes `token` verify as it is, without a signature of ours: for a read access token that fixtures
   * fix in advance (tests and CI configurations hard-code it). It must name a `kid` that is not one
   * of ours. Only its hash is stored.
   */
  async registerFixed(token: string): Promise<void> {
    const hash = hashSecret(token)
    await this.store.setMetaIfAbsent(`${FIXED_TOKEN_META_PREFIX}${hash}`, new Date(this.clock.now()).toISOString())
    this.#fixed.delete(hash)
  }

  async #fixedPayload(token: string): Promise<JWTPayload | null> {
    const hash = hashSecret(token)
    const registered = await this.#fixed.get(hash, async () => (await this.store.getMeta(`${FIXED_TOKEN_META_PREFIX}${hash}`)) !== null)
    if (!registered) return null
    const payload = decodeJwt(token)
    return typeof payload.exp === 'number' && payload.exp * 1000 <= this.clock.now() ? null : payload
  }

  /** Every key, for the CLI. */
  list(): Promise<SigningKeyRecord[]> {
    return this.store.listSigningKeys()
  }
}

function newestLive(keys: SigningKeyRecord[]): SigningKeyRecord | undefined {
  return keys.filter((key) => key.retiredAt === null).at(-1)
}

function secretOf(key: SigningKeyRecord): Uint8Array {
  return new Uint8Array(Buffer.from(key.secret, 'base64url'))
}

/** Looks like a JWT: three base64url parts. Clients decide between Bearer and api_key the same way. */
export function isJwtShaped(value: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(value)
}
