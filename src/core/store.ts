/**
 * The storage port. Core owns it; each backend under `store/` implements it and runs the one
 * contract suite (`store/store-contract.ts`).
 *
 * Conventions every implementation keeps:
 * - times are integer milliseconds since the epoch, always passed in by core (`now`), never read
 *   from the database's own clock, so one injected clock decides every expiry;
 * - secrets arrive already hashed (`*Hash` fields, hex SHA-256); a store never sees a plaintext
 *   token, API key or password;
 * - expected misses return `null` / `false`; a database that cannot be reached throws
 *   `StoreUnavailableError`; anything else thrown is a bug;
 * - every method is one transaction: it commits fully before its promise resolves, or not at all.
 */
export interface Store {
  /** `sqlite` or `postgres`: for logs and health output only. */
  readonly kind: string

  /** Resolves when the database answers a trivial query; throws `StoreUnavailableError` otherwise. */
  ping(): Promise<void>

  /** Finishes pending writes and releases the database. Further calls fail. */
  close(): Promise<void>

  /** Reads a value of the small key/value table used for one-time markers (the demo banner). */
  getMeta(key: string): Promise<string | null>

  /** Sets `key` only if it has no value yet; true when this call set it (exactly one racing caller wins). */
  setMetaIfAbsent(key: string, value: string): Promise<boolean>

  insertApplication(app: ApplicationRecord): Promise<void>
  findApplicationById(id: string): Promise<ApplicationRecord | null>
  findApplicationByKeyHash(apiKeyHash: string): Promise<ApplicationRecord | null>
  listApplications(): Promise<ApplicationRecord[]>
  /** False when no such application exists. */
  setApplicationSuspended(id: string, suspended: boolean): Promise<boolean>

  /** Creates an account with the next integer id; null when the username is taken (case-insensitively). */
  insertAccount(account: NewAccount): Promise<AccountRecord | null>
  /** Case-insensitive on the username. */
  findAccountByUsername(username: string): Promise<AccountRecord | null>
  findAccountById(id: number): Promise<AccountRecord | null>
  findAccountByObjectId(objectId: string): Promise<AccountRecord | null>
  listAccounts(): Promise<AccountRecord[]>
  /**
   * Disables or enables an account. Disabling also ends, in the same transaction, every credential
   * of the account: its sessions and website sessions are deleted, its v4 access tokens revoked
   * (`revokedAt = now`), and its approved, unconsumed request tokens (v3 and v4) set to `denied`, so
   * that none can still be turned into a session or access token. False when no such account exists.
   */
  setAccountDisabled(id: number, disabled: boolean, now: number): Promise<boolean>
  /**
   * Replaces the password hash. With `endSessions`, every credential of the account ends in the same
   * transaction, exactly as `setAccountDisabled` ends them. With `expectedHash`, the hash is replaced
   * only while it is still that one, in one guarded statement (a rehash at login must not undo a
   * password change made meanwhile). False when no such account exists or the guard failed.
   */
  setAccountPassword(id: number, passwordHash: string, endSessions: boolean, now: number, expectedHash?: string): Promise<boolean>

  insertRequestToken(token: RequestTokenRecord): Promise<void>
  findRequestToken(tokenHash: string): Promise<RequestTokenRecord | null>
  /**
   * Approves a live (unexpired, unconsumed) request token for `accountId`, in one guarded statement:
   * it succeeds when the token is pending, or already approved for the same account; when `appId` is
   * given the token must belong to that application. Returns the updated token, or null when the
   * guard failed. Of two accounts racing for one pending token exactly one wins.
   *
   * With `issued` (a token core has verified as ours: a pending token has no row), the same
   * statement stores the token's row, approved, when it has none yet (an upsert: of any number of
   * racing approvals of a token never stored, exactly one account wins, as for a stored one), and
   * otherwise applies the guard above to the row it has, which must be of `issued.appId`.
   */
  approveRequestToken(input: ApproveInput): Promise<RequestTokenRecord | null>
  /**
   * Marks a live pending token denied; null when it was not live and pending. With `issued`, the
   * token's row is stored, denied, when it has none yet, in the same statement.
   */
  denyRequestToken(tokenHash: string, now: number, issued?: IssuedRequestToken): Promise<RequestTokenRecord | null>
  /**
   * Consumes an approved, live, unconsumed request token of `appId` and stores `session` for the
   * account that approved it, in one transaction. Of any number of racing callers exactly one gets
   * `ok: true`. On failure, `reason` tells a token that still waits for the user (`pending`),
   * one the user refused (`denied`), and anything else (`invalid`: unknown, expired, consumed, or
   * another application's).
   */
  createSessionFromRequestToken(
    tokenHash: string,
    appId: string,
    now: number,
    session: Omit<SessionRecord, 'accountId'>,
  ): Promise<ConsumeResult>

  insertSession(session: SessionRecord): Promise<void>
  /** The session, whether or not it has expired (core decides); null when unknown or deleted. */
  findSession(sessionHash: string): Promise<SessionRecord | null>
  /**
   * The session and the account it belongs to, read together in one statement: what every session
   * check needs (one round trip, not two). Null when the session is unknown or deleted; whether it has
   * expired, and whether the account may act, is core's to decide.
   */
  findSessionWithAccount(sessionHash: string): Promise<{ session: SessionRecord; account: AccountRecord } | null>
  /** Deletes a session of `appId`; false when there was none. */
  deleteSession(sessionHash: string, appId: string): Promise<boolean>

  insertGuestSession(session: GuestSessionRecord): Promise<void>
  findGuestSession(sessionHash: string): Promise<GuestSessionRecord | null>

  insertV4RequestToken(token: V4RequestTokenRecord): Promise<void>
  findV4RequestToken(idHash: string): Promise<V4RequestTokenRecord | null>
  /**
   * As `approveRequestToken`, for a v4 request token (no application check: a user approves on the
   * website). With `issued` (the claims of a token core has verified), the row is stored, approved,
   * when the token has none yet.
   */
  approveV4RequestToken(idHash: string, accountId: number, now: number, issued?: IssuedV4RequestToken): Promise<V4RequestTokenRecord | null>
  /** As `denyRequestToken`, for a v4 request token. */
  denyV4RequestToken(idHash: string, now: number, issued?: IssuedV4RequestToken): Promise<V4RequestTokenRecord | null>
  /**
   * Consumes an approved, live v4 request token of `appId` and stores `accessToken` for the account
   * that approved it, in one transaction; exactly one of racing callers gets `ok: true`.
   */
  createAccessTokenFromRequestToken(
    idHash: string,
    appId: string,
    now: number,
    accessToken: Omit<AccessTokenRecord, 'accountId'>,
  ): Promise<ConsumeResult>
  /** The access token row, revoked or not; null when unknown. */
  findAccessToken(idHash: string): Promise<AccessTokenRecord | null>
  /** Revokes a live access token of `appId`; false when there was none. */
  revokeAccessToken(idHash: string, appId: string, now: number): Promise<boolean>

  /** Every signing key, oldest first, retired ones included. */
  listSigningKeys(): Promise<SigningKeyRecord[]>
  insertSigningKey(key: SigningKeyRecord): Promise<void>
  /** False when no such live key exists. */
  retireSigningKey(kid: string, now: number): Promise<boolean>

  insertWebSession(session: WebSessionRecord): Promise<void>
  findWebSession(sessionHash: string): Promise<WebSessionRecord | null>
  deleteWebSession(sessionHash: string): Promise<void>

  /**
   * Deletes up to `limit` rows that can never be used again: request tokens (v3 and v4) past their
   * expiry, guest sessions, website sessions and sessions past theirs. Returns how many it deleted;
   * callers loop while it returns `limit`, so no single call holds the database for long.
   */
  purgeExpired(now: number, limit: number): Promise<number>

  /** True when no table holds a row (a freshly migrated database). Used by `cinepass copy`. */
  isEmpty(): Promise<boolean>

  /**
   * Every row of every table (expired and revoked ones included), read in one transaction so the
   * snapshot is consistent. Used by `cinepass copy`; the whole database is held in memory.
   */
  exportAll(): Promise<StoreSnapshot>

  /**
   * Replaces the whole content with `snapshot`, in one transaction: every existing row is deleted,
   * then every row of the snapshot is inserted with its own keys (account ids included). Afterwards
   * `insertAccount` continues after the highest account id. On failure nothing changed.
   */
  replaceAll(snapshot: StoreSnapshot): Promise<void>

  /**
   * How many credentials are usable at `now` (for metrics, computed when they are scraped): request
   * tokens (v3) stored, unexpired and unconsumed (a pending token has no row), sessions unexpired (or without expiry), guest sessions
   * unexpired, v4 access tokens unrevoked. Counts only; cheap enough to run on every scrape.
   */
  countLive(now: number): Promise<LiveCounts>

  /**
   * The connection pool's state, for backends that have one (PostgreSQL): connections open, idle
   * among them, and callers waiting for one. Absent on backends without a pool (SQLite).
   */
  poolStats?(): PoolStats

  /**
   * The highest schema migration applied to the database (0 before the first), for backends with
   * numbered migrations (both SQL backends). Opening such a store applies the pending ones.
   */
  schemaVersion?(): Promise<number>
}

export interface LiveCounts {
  requestTokens: number
  sessions: number
  guestSessions: number
  accessTokens: number
}

export interface PoolStats {
  total: number
  idle: number
  waiting: number
}

/** The whole content of a store, table by table: what `exportAll` reads and `replaceAll` writes. */
export interface StoreSnapshot {
  meta: { key: string; value: string }[]
  applications: ApplicationRecord[]
  accounts: AccountRecord[]
  requestTokens: RequestTokenRecord[]
  sessions: SessionRecord[]
  guestSessions: GuestSessionRecord[]
  v4RequestTokens: V4RequestTokenRecord[]
  accessTokens: AccessTokenRecord[]
  signingKeys: SigningKeyRecord[]
  webSessions: WebSessionRecord[]
}

export interface ApplicationRecord {
  /** 24 lowercase hex: the `sub` of the application's read access token. */
  id: string
  name: string
  apiKeyHash: string
  suspended: boolean
  createdAt: number
  /** Origins `redirect_to` may point at; empty means any allowed URL. */
  redirectOrigins: string[]
}

export interface NewAccount {
  /** 24 lowercase hex: the v4 `account_id`. */
  objectId: string
  username: string
  name: string
  email: string | null
  language: string
  country: string
  includeAdult: boolean
  passwordHash: string
  createdAt: number
}

export interface AccountRecord extends NewAccount {
  /** TMDB's integer v3 account id. */
  id: number
  disabled: boolean
}

export type RequestTokenStatus = 'pending' | 'approved' | 'denied'

export interface RequestTokenRecord {
  tokenHash: string
  appId: string
  createdAt: number
  expiresAt: number
  status: RequestTokenStatus
  accountId: number | null
  consumedAt: number | null
}

export interface ApproveInput {
  tokenHash: string
  accountId: number
  now: number
  /** When given, the token must belong to this application. */
  appId?: string
  /** The token as core verified it (ours, of this application): its row is created when absent. */
  issued?: IssuedRequestToken
}

/**
 * What a request token proves by itself once core has verified it (its MAC, or its JWT signature):
 * the row a token gets when a person or the client first acts on it. A pending token has no row.
 */
export interface IssuedRequestToken {
  appId: string
  createdAt: number
  expiresAt: number
}

export interface IssuedV4RequestToken extends IssuedRequestToken {
  redirectTo: string | null
}

export type ConsumeResult =
  | { ok: true; accountId: number }
  | { ok: false; reason: 'pending' | 'denied' | 'invalid' }

export interface SessionRecord {
  sessionHash: string
  appId: string
  accountId: number
  createdAt: number
  /** Null: the session never expires (TMDB's behaviour). */
  expiresAt: number | null
}

export interface GuestSessionRecord {
  sessionHash: string
  appId: string
  createdAt: number
  expiresAt: number
}

export interface V4RequestTokenRecord {
  /** Hash of the token's `jti`. */
  idHash: string
  appId: string
  createdAt: number
  expiresAt: number
  redirectTo: string | null
  status: RequestTokenStatus
  accountId: number | null
  consumedAt: number | null
}

export interface AccessTokenRecord {
  /** Hash of the token's `jti`. */
  idHash: string
  appId: string
  accountId: number
  createdAt: number
  revokedAt: number | null
}

export interface SigningKeyRecord {
  kid: string
  /** The HS256 secret, base64url. It must be shared by every instance, so it lives in the database. */
  secret: string
  createdAt: number
  retiredAt: number | null
}

export interface WebSessionRecord {
  sessionHash: string
  accountId: number
  createdAt: number
  expiresAt: number
}

/** Why a token could not be consumed: the status tells "wait for the user" from "this token is dead". */
export function whyNotConsumable(
  token: { appId: string; status: RequestTokenStatus; consumedAt: number | null; expiresAt: number } | null,
  appId: string,
  now: number,
): 'pending' | 'denied' | 'invalid' {
  if (!token || token.appId !== appId || token.consumedAt !== null || token.expiresAt <= now) return 'invalid'
  return token.status === 'approved' ? 'invalid' : token.status
}

