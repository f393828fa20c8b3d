import { AuthError } from './errors.js'
import type { ClientContext, CoreDeps } from './context.js'
import { TtlCache } from './refreshing.js'
import { normalizePassword } from './password-rule.js'
import { RequestTokenCodec } from './request-tokens.js'
import { HEX_32, HEX_40, hashSecret, randomHex } from './secrets.js'
import { isJwtShaped } from './signing-keys.js'
import type { AccountRecord, ApplicationRecord, ConsumeResult, IssuedRequestToken } from './store.js'
import { canonicalUsername, throttledName } from './usernames.js'

// Admin changes made by the CLI in another process reach this one within a second.
const APPLICATION_CACHE_TTL_MS = 1000

export interface Credentials {
  /** `api_key` from the query string or the JSON body. */
  apiKey?: string | undefined
  /** The token of an `Authorization: Bearer` header. */
  bearer?: string | undefined
}

/** TMDB's v3 authentication rules: request tokens, login, sessions, guest sessions, the account. */
export class AuthService {
  /** Issues and verifies the v3 request tokens (self-verifying: a pending token has no row). */
  readonly requestTokens: RequestTokenCodec
  readonly #applications: TtlCache<string, ApplicationRecord | null>
  readonly #applicationIds: TtlCache<'all', string[]>

  constructor(private readonly deps: CoreDeps) {
    this.#applications = new TtlCache(deps.clock, APPLICATION_CACHE_TTL_MS)
    this.#applicationIds = new TtlCache(deps.clock, APPLICATION_CACHE_TTL_MS)
    this.requestTokens = new RequestTokenCodec(deps.keys, deps.clock, deps.random, deps.lifetimes.requestTokenTtlMs)
  }

  /**
   * Which application (and, for a user's v4 access token, which user) a request speaks for.
   * Every credential presented must be valid: 401/7 otherwise, 401/10 for a suspended application.
   */
  async authenticateClient(credentials: Credentials): Promise<ClientContext> {
    const { apiKey, bearer } = credentials
    if (bearer === undefined && apiKey === undefined) throw new AuthError('INVALID_API_KEY')
    let context: ClientContext | undefined
    if (bearer !== undefined) context = await this.#fromBearer(bearer)
    if (apiKey !== undefined) {
      const keyed = await this.#fromApiKey(apiKey)
      context ??= keyed
    }
    if (!context) throw new AuthError('INVALID_API_KEY')
    if (context.app.suspended) throw new AuthError('SUSPENDED_API_KEY')
    return context
  }

  /**
   * `authenticateClient` for a request that gives an API key alone, decided from what this process
   * has cached (every API request asks this first): the client context when the key's application is
   * cached, fresh and not suspended; undefined otherwise, including every refusal, which
   * `authenticateClient` then decides and explains.
   */
  cachedClient(credentials: Credentials): ClientContext | undefined {
    const { apiKey, bearer } = credentials
    if (bearer !== undefined || apiKey === undefined || !HEX_32.test(apiKey)) return undefined
    const app = this.#applications.peek(hashSecret(apiKey))
    return app && !app.suspended ? { app, apiKey, user: null } : undefined
  }

  async #application(apiKey: string): Promise<ApplicationRecord | null> {
    if (!HEX_32.test(apiKey)) return null
    const keyHash = hashSecret(apiKey)
    return this.#applications.get(keyHash, () => this.deps.store.findApplicationByKeyHash(keyHash))
  }

  /** The application of an API key (cached as every API request's check is), or null. */
  applicationOfKey(apiKey: string): Promise<ApplicationRecord | null> {
    return this.#application(apiKey)
  }

  /**
   * The application a live v3 request token of ours was issued to, found from the token alone (its
   * MAC is tried under each application), with what the token proves; null for anything else (a
   * token of the previous version, stored as a row, included).
   */
  async requestTokenOwner(requestToken: string): Promise<{ appId: string; issued: IssuedRequestToken } | null> {
    if (!HEX_40.test(requestToken)) return null
    const ids = () => this.#applicationIds.get('all', async () => (await this.deps.store.listApplications()).map((app) => app.id))
    const owner = await this.requestTokens.identify(requestToken, await ids())
    if (owner || !(await this.requestTokens.plausible(requestToken))) return owner
    // Perhaps an application created a moment ago, by the CLI or another instance.
    this.#applicationIds.clear()
    return this.requestTokens.identify(requestToken, await ids())
  }

  async #fromApiKey(apiKey: string): Promise<ClientContext> {
    const app = await this.#application(apiKey)
    if (!app) throw new AuthError('INVALID_API_KEY')
    return { app, apiKey, user: null }
  }

  async #fromBearer(bearer: string): Promise<ClientContext> {
    if (!isJwtShaped(bearer)) throw new AuthError('INVALID_API_KEY')
    const payload = await this.deps.keys.verify(bearer)
    const apiKey = payload?.aud
    if (!payload || typeof apiKey !== 'string') throw new AuthError('INVALID_API_KEY')
    const app = await this.#application(apiKey)
    if (!app) throw new AuthError('INVALID_API_KEY')
    const scopes = Array.isArray(payload.scopes) ? payload.scopes : []
    if (payload.version === 1 && payload.sub === app.id && scopes.includes('api_read')) return { app, apiKey, user: null }
    if (payload.version === 2 && scopes.includes('api_write') && typeof payload.jti === 'string') {
      const tokenIdHash = hashSecret(payload.jti)
      const row = await this.deps.store.findAccessToken(tokenIdHash)
      if (row && row.revokedAt === null && row.appId === app.id) return { app, apiKey, user: { accountId: row.accountId, tokenIdHash, epoch: row.epoch } }
    }
    throw new AuthError('INVALID_API_KEY')
  }

  /**
   * A new pending request token of the client's application, valid for the request-token lifetime.
   * Nothing is stored: the token proves its application and expiry by itself.
   */
  async createRequestToken(client: ClientContext): Promise<{ requestToken: string; expiresAt: number }> {
    const { token, issued } = await this.requestTokens.issue(client.app.id)
    return { requestToken: token, expiresAt: issued.expiresAt }
  }

  /**
   * Checks a username and password. Unknown user and wrong password fail alike (401/30) and take
   * about the same time; a disabled account is only revealed (401/31) to the right password. A hash
   * made under a weaker policy than the current one is replaced by a current one. A name outside
   * the username rules is an unknown user (the same hash, the same answer).
   */
  async verifyLogin(username: string, password: string): Promise<AccountRecord> {
    const { store, hasher } = this.deps
    const canonical = canonicalUsername(username)
    const account = canonical === null ? null : await store.findAccountByUsername(canonical)
    const normalized = normalizePassword(password)
    // A hash made before passwords were normalised holds the password as it was typed: a password
    // that normalisation changes is also tried as typed (and an unknown user costs as much).
    const asTyped = normalized !== password
    if (!account) {
      await hasher.verifyDummy(normalized)
      if (asTyped) await hasher.verifyDummy(password)
      throw new AuthError('INVALID_LOGIN')
    }
    let matched = await hasher.verify(account.passwordHash, normalized)
    let legacy = false
    if (!matched && asTyped) legacy = matched = await hasher.verify(account.passwordHash, password)
    if (!matched) throw new AuthError('INVALID_LOGIN')
    if (account.disabled) throw new AuthError('ACCOUNT_DISABLED')
    if (legacy || hasher.needsRehash(account.passwordHash)) await this.#rehash(account, normalized)
    return account
  }

  /**
   * Stores the password under the current hashing policy (security.md 1E), keeping the sessions:
   * only the form of the hash changes. Guarded by the old hash, so a password changed meanwhile
   * stays changed. A failure (the hashing queue full, the database busy) does not fail the login.
   */
  async #rehash(account: AccountRecord, password: string): Promise<void> {
    const { store, hasher, clock } = this.deps
    try {
      await store.setAccountPassword(account.id, await hasher.hash(password), false, clock.now(), account.passwordHash)
    } catch {
      // The next successful login tries again.
    }
  }

  /**
   * The one throttled sign-in of cinepass (`validate_with_login` and the website's sign-in): checks
   * the password like `verifyLogin` unless the login throttle refuses `address` first (429/25 with
   * Retry-After). Only a wrong password or unknown user (401/30) counts as a failure.
   * `address` is the client's IP (IPv6 is counted by its /64). Every spelling of one username is
   * counted as one (its canonical form).
   */
  async signIn(username: string, password: string, address: string): Promise<AccountRecord> {
    return this.deps.limits.login.attempt(
      throttledName(username),
      address,
      () => this.verifyLogin(username, password),
      (error) => error instanceof AuthError && error.code === 'INVALID_LOGIN',
    )
  }

  /** `validate_with_login`: the user's password approves the request token for them. */
  async validateWithLogin(
    client: ClientContext,
    input: { username: string | undefined; password: string | undefined; requestToken: string | undefined; address?: string | undefined },
  ): Promise<{ requestToken: string; expiresAt: number; accountId: number }> {
    const { username, password, requestToken } = input
    if (!username || !password) throw new AuthError('CREDENTIALS_REQUIRED')
    if (requestToken === undefined) throw new AuthError('INVALID_PARAMETERS')
    // Callers without an address (none in HTTP) share one bucket: throttled, never unthrottled.
    const account = await this.signIn(username, password, input.address ?? 'unknown')
    if (!HEX_40.test(requestToken)) throw new AuthError('INVALID_REQUEST_TOKEN')
    // Under the epoch read with the password hash: a password change or a disable committed since
    // the password was checked refuses the approval (and, on a race the approval wins, the session).
    // A token of ours gets its row now; any other may be one the previous version stored.
    const issued = await this.requestTokens.verify(requestToken, client.app.id)
    const approved = await this.deps.store.approveRequestToken({
      tokenHash: hashSecret(requestToken),
      accountId: account.id,
      epoch: account.epoch,
      now: this.deps.clock.now(),
      appId: client.app.id,
      ...(issued && { issued }),
    })
    if (!approved) throw new AuthError('INVALID_REQUEST_TOKEN')
    return { requestToken, expiresAt: approved.expiresAt, accountId: account.id }
  }

  /**
   * `session/new`: consumes an approved request token, once, into a new session. 401/33 when the
   * account that approved it has been disabled, or its credentials changed, since.
   */
  async createSession(client: ClientContext, requestToken: string | undefined): Promise<{ sessionId: string; accountId: number }> {
    if (requestToken === undefined) throw new AuthError('INVALID_PARAMETERS')
    if (!HEX_40.test(requestToken)) throw new AuthError('INVALID_REQUEST_TOKEN')
    const { store, clock, random, lifetimes } = this.deps
    const now = clock.now()
    const sessionId = randomHex(random, 20)
    const sessionHash = hashSecret(sessionId)
    const tokenHash = hashSecret(requestToken)
    const consume = (): Promise<ConsumeResult> =>
      store.createSessionFromRequestToken(tokenHash, client.app.id, now, {
        sessionHash,
        appId: client.app.id,
        createdAt: now,
        expiresAt: lifetimes.sessionTtlMs === null ? null : now + lifetimes.sessionTtlMs,
      })
    let result = await consume()
    if (!result.ok && result.reason === 'invalid' && (await this.requestTokens.verify(requestToken, client.app.id))) {
      result = await pendingUnlessStored(consume, () => store.findRequestToken(tokenHash))
    }
    if (!result.ok) throw new AuthError(result.reason === 'invalid' ? 'INVALID_REQUEST_TOKEN' : 'SESSION_DENIED')
    // The store's guard wins every race on SQLite; on PostgreSQL a change committed while the
    // statement ran can leave a session under the old epoch, which no check accepts: answer as such.
    const found = await store.findSessionWithAccount(sessionHash)
    if (found && isCurrent(found.session, found.account)) return { sessionId, accountId: found.account.id }
    await store.deleteSession(sessionHash, client.app.id)
    throw new AuthError('INVALID_REQUEST_TOKEN')
  }

  /**
   * A new session for the user of a live access token of the client's application (`convert/4`),
   * linked to that token: under its epoch, and only while its account still has it. Null when the
   * token is no longer live, or its account was disabled or its credentials changed since.
   */
  async sessionFromAccessToken(client: ClientContext, accessTokenIdHash: string): Promise<{ sessionId: string; accountId: number } | null> {
    const { store, clock, random, lifetimes } = this.deps
    const now = clock.now()
    const sessionId = randomHex(random, 20)
    const accountId = await store.createSessionFromAccessToken(accessTokenIdHash, {
      sessionHash: hashSecret(sessionId),
      appId: client.app.id,
      createdAt: now,
      expiresAt: lifetimes.sessionTtlMs === null ? null : now + lifetimes.sessionTtlMs,
    })
    return accountId === null ? null : { sessionId, accountId }
  }

  /** A guest session: no user, 24 hours. */
  async createGuestSession(client: ClientContext): Promise<{ guestSessionId: string; expiresAt: number }> {
    const { store, clock, random, lifetimes } = this.deps
    const guestSessionId = randomHex(random, 16)
    const now = clock.now()
    const expiresAt = now + lifetimes.guestSessionTtlMs
    await store.insertGuestSession({ sessionHash: hashSecret(guestSessionId), appId: client.app.id, createdAt: now, expiresAt })
    return { guestSessionId, expiresAt }
  }

  /** True when `guestSessionId` is a live guest session of the client's application. */
  async isLiveGuestSession(client: ClientContext, guestSessionId: string): Promise<boolean> {
    if (!HEX_32.test(guestSessionId)) return false
    const row = await this.deps.store.findGuestSession(hashSecret(guestSessionId))
    return row !== null && row.appId === client.app.id && this.deps.clock.now() < row.expiresAt
  }

  /** Logs a session out at once. 404/37 when it is unknown, already gone, or another application's. */
  async deleteSession(client: ClientContext, sessionId: string | undefined): Promise<void> {
    if (sessionId === undefined) throw new AuthError('INVALID_PARAMETERS')
    if (!HEX_40.test(sessionId) || !(await this.deps.store.deleteSession(hashSecret(sessionId), client.app.id))) {
      throw new AuthError('SESSION_NOT_FOUND')
    }
  }

  /**
   * The account a request acts as: the user of its v4 access token, else the owner of `sessionId`
   * (a live session of the same application). 401/3 when there is none, and when the credential
   * was issued under an epoch the account no longer has (its password changed, or it was disabled).
   */
  async accountFor(client: ClientContext, sessionId: string | undefined): Promise<AccountRecord> {
    const { store, clock } = this.deps
    let account: AccountRecord | null
    if (sessionId !== undefined) {
      if (!HEX_40.test(sessionId)) throw new AuthError('AUTHENTICATION_FAILED')
      const found = await store.findSessionWithAccount(hashSecret(sessionId))
      const session = found?.session
      const live = session && session.appId === client.app.id && (session.expiresAt === null || clock.now() < session.expiresAt)
      if (!live || !isCurrent(session, found.account)) throw new AuthError('AUTHENTICATION_FAILED')
      account = found.account
    } else if (client.user) {
      account = await store.findAccountById(client.user.accountId)
      if (account && !isCurrent(client.user, account)) throw new AuthError('AUTHENTICATION_FAILED')
    } else {
      throw new AuthError('AUTHENTICATION_FAILED')
    }
    if (!account || account.disabled) throw new AuthError('AUTHENTICATION_FAILED')
    return account
  }

  /** Forgets cached applications (after an admin change in this process). */
  forgetApplications(): void {
    this.#applications.clear()
  }
}

/** True when a credential issued under `credential.epoch` still speaks for `account`: the account still has that epoch and may act. */
export function isCurrent(credential: { epoch: number }, account: AccountRecord): boolean {
  return credential.epoch === account.epoch && !account.disabled
}

/**
 * The answer for a verified token of ours that the store found no approved row for: a token with no
 * row is pending (nobody has acted on it yet). One given a row meanwhile (a racing approval) is
 * consumed again, so the caller gets that row's answer.
 */
export async function pendingUnlessStored(consume: () => Promise<ConsumeResult>, findRow: () => Promise<unknown>): Promise<ConsumeResult> {
  return (await findRow()) === null ? { ok: false, reason: 'pending' } : consume()
}
