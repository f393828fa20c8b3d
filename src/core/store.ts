import { DeletedMeanwhileError } from './errors.js'

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
 *   `StoreUnavailableError`; a write naming an application or account deleted meanwhile throws the
 *   driver's error, which `isDeletedReference` recognizes (and only that write fails), except the
 *   guarded writes of credentials below, which find no such account and write nothing; anything else
 *   thrown is a bug;
 * - every method is one transaction: it commits fully before its promise resolves, or not at all;
 * - every credential of an account (session, website session, access token, approved request token)
 *   records the account's credentials `epoch` it was issued under. A change that ends the account's
 *   credentials moves the epoch on in the same transaction; a credential is written only while the
 *   account still has the epoch it carries and is not disabled (one guarded statement), and core
 *   accepts it only while that is still so. So nothing issued under the old credentials, even
 *   while the change ran, works after it; and enabling an account again revives nothing.
 */
export interface Store {
  /** `sqlite` or `postgres`: for logs and health output only. */
  readonly kind: string

  /** Resolves when the database answers a trivial query; throws `StoreUnavailableError` otherwise. */
  ping(): Promise<void>

  /** Finishes pending writes and releases the database. Further calls fail. */
  close(): Promise<void>

  /**
   * True when `error`, thrown by one of this store's writes, means the write named an application or
   * account that does not exist (any more): a request that raced `deleteApplication`/`deleteAccount`,
   * or came through an application still cached. Core answers it with `DeletedMeanwhileError`.
   */
  isDeletedReference(error: unknown): boolean

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
  /**
   * Replaces the application's API key (its hash). Its sessions, guest sessions and access tokens
   * stay the application's. False when no such application exists.
   */
  setApplicationKeyHash(id: string, apiKeyHash: string): Promise<boolean>
  /**
   * Deletes the application and, in the same transaction, every row that names it: its sessions,
   * guest sessions, request tokens (v3 and v4) and v4 access tokens. False when no such application
   * exists (and then nothing changed).
   */
  deleteApplication(id: string): Promise<boolean>

  /**
   * Creates an account with the next integer id, never one a deleted account had (clients keep account
   * ids); null when the username is taken (case-insensitively).
   */
  insertAccount(account: NewAccount): Promise<AccountRecord | null>
  /** Case-insensitive on the username. */
  findAccountByUsername(username: string): Promise<AccountRecord | null>
  findAccountById(id: number): Promise<AccountRecord | null>
  findAccountByObjectId(objectId: string): Promise<AccountRecord | null>
  listAccounts(): Promise<AccountRecord[]>
  /**
   * Disables or enables an account. Disabling also ends, in the same transaction, every credential
   * of the account: its `epoch` moves on, its sessions and website sessions are deleted, its v4
   * access tokens revoked (`revokedAt = now`), and its approved, unconsumed request tokens (v3 and
   * v4) set to `denied`, so that none can still be turned into a session or access token. Enabling
   * a disabled account moves the epoch on too (nothing issued before it comes back); enabling an
   * enabled one changes nothing. False when no such account exists.
   */
  setAccountDisabled(id: number, disabled: boolean, now: number): Promise<boolean>
  /**
   * Replaces the password hash. With `endSessions`, every credential of the account ends in the same
   * transaction, exactly as `setAccountDisabled` ends them (the epoch moves on); without, the epoch
   * stays and so do the credentials. With `expectedHash`, the hash is replaced
   * only while it is still that one, in one guarded statement (a rehash at login must not undo a
   * password change made meanwhile). False when no such account exists or the guard failed.
   */
  setAccountPassword(id: number, passwordHash: string, endSessions: boolean, now: number, expectedHash?: string): Promise<boolean>
  /**
   * Deletes the account and, in the same transaction, every row that names it: its sessions, website
   * sessions, v4 access tokens and the request tokens (v3 and v4) it approved or denied. Its username
   * is free again afterwards. False when no such account exists (and then nothing changed).
   */
  deleteAccount(id: number): Promise<boolean>

  insertRequestToken(token: RequestTokenRecord): Promise<void>
  findRequestToken(tokenHash: string): Promise<RequestTokenRecord | null>
  /**
   * Approves a live (unexpired, unconsumed) request token for `accountId`, in one guarded statement:
   * it succeeds when the token is pending, or already approved for the same account; when `appId` is
   * given the token must belong to that application; the account must still have `epoch` and not be
   * disabled (the token records the epoch). Returns the updated token, or null when the guard
   * failed. Of two accounts racing for one pending token exactly one wins.
   *
   * With `issued` (a token core has verified as ours: a pending token has no row), the same
   * statement stores the token's row, approved under `epoch`, when it has none yet, guarded the
   * same way on the account (an upsert: of any number of racing approvals of a token never stored,
   * exactly one account wins, as for a stored one), and otherwise applies the guard above to the
   * row it has, which must be of `issued.appId`.
   */
  approveRequestToken(input: ApproveInput): Promise<RequestTokenRecord | null>
  /**
   * Marks a live pending token denied; null when it was not live and pending. With `issued`, the
   * token's row is stored, denied, when it has none yet, in the same statement.
   */
  denyRequestToken(tokenHash: string, now: number, issued?: IssuedRequestToken): Promise<RequestTokenRecord | null>
  /**
   * Consumes an approved, live, unconsumed request token of `appId` and stores `session` for the
   * account that approved it, under the epoch the token was approved with, in one transaction; only
   * while the account still has that epoch and is not disabled. Of any number of racing callers
   * exactly one gets `ok: true`. On failure, `reason` tells a token that still waits for the user
   * (`pending`), one the user refused (`denied`), and anything else (`invalid`: unknown, expired,
   * consumed, another application's, or approved under credentials that have changed since).
   */
  createSessionFromRequestToken(
    tokenHash: string,
    appId: string,
    now: number,
    session: Omit<SessionRecord, 'accountId' | 'epoch' | 'accessTokenIdHash'>,
  ): Promise<ConsumeResult>

  /**
   * Stores `session` for the account of a live (unrevoked) access token of `session.appId`, in one
   * guarded statement: under the token's epoch, linked to the token (`accessTokenIdHash`), and only
   * while the account still has that epoch and is not disabled. The account's id, or null when the
   * guard failed.
   */
  createSessionFromAccessToken(accessTokenIdHash: string, session: Omit<SessionRecord, 'accountId' | 'epoch' | 'accessTokenIdHash'>): Promise<number | null>

  /** Stores a session as it is given (no guard: for copies and tests; core issues sessions through the guarded methods). */
  insertSession(session: SessionRecord): Promise<void>
  /** The session, whether or not it has expired (core decides); null when unknown or deleted. */
  findSession(sessionHash: string): Promise<SessionRecord | null>
  /**
   * The session and the account it belongs to, read together in one statement: what every session
   * check needs (one round trip, not two). Null when the session is unknown or deleted; whether it has
   * expired, and whether the account may act and still has the session's epoch, is core's to decide.
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
   * website). With `issued` (the claims of a token core has verified), the row is stored, approved
   * under `epoch` and guarded on the account the same way, when the token has none yet.
   */
  approveV4RequestToken(idHash: string, accountId: number, now: number, epoch: number, issued?: IssuedV4RequestToken): Promise<V4RequestTokenRecord | null>
  /** As `denyRequestToken`, for a v4 request token. */
  denyV4RequestToken(idHash: string, now: number, issued?: IssuedV4RequestToken): Promise<V4RequestTokenRecord | null>
  /**
   * Consumes an approved, live v4 request token of `appId` and stores `accessToken` for the account
   * that approved it, under the epoch it was approved with, in one transaction, guarded as
   * `createSessionFromRequestToken`; exactly one of racing callers gets `ok: true`.
   */
  createAccessTokenFromRequestToken(
    idHash: string,
    appId: string,
    now: number,
    accessToken: Omit<AccessTokenRecord, 'accountId' | 'epoch'>,
  ): Promise<ConsumeResult>
  /** The access token row, revoked or not; null when unknown. */
  findAccessToken(idHash: string): Promise<AccessTokenRecord | null>
  /**
   * Revokes a live access token of `appId` and, in the same transaction, deletes the sessions made
   * from it (`createSessionFromAccessToken`); false when there was none.
   */
  revokeAccessToken(idHash: string, appId: string, now: number): Promise<boolean>

  /** Every signing key, oldest first, retired ones included. */
  listSigningKeys(): Promise<SigningKeyRecord[]>
  insertSigningKey(key: SigningKeyRecord): Promise<void>
  /** False when no such live key exists. */
  retireSigningKey(kid: string, now: number): Promise<boolean>

  /**
   * Stores a website session, in one guarded statement: only while its account still has the
   * session's `epoch` and is not disabled. False when the guard failed (nothing stored).
   */
  insertWebSession(session: WebSessionRecord): Promise<boolean>
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

  // The account page: the credentials an account holds, its password, and one-time reset links.

  /**
   * The credentials of an account usable at `now`, newest first, at most `limit`: its sessions
   * (unexpired or without expiry; converted ones included), its unrevoked v4 access tokens, and its
   * unexpired website sessions, each with the name of its application (null for website sessions).
   */
  listAccountCredentials(accountId: number, now: number, limit: number): Promise<AccountCredential[]>
  /**
   * Ends one credential of the account: deletes the session or website session, or revokes the
   * access token (`revokedAt = now`; the sessions converted from it are rows of their own and
   * stay). False when the account has no such live credential.
   */
  endAccountCredential(accountId: number, credential: CredentialRef, now: number): Promise<boolean>
  /**
   * Ends every credential of the account as `setAccountDisabled` does (the epoch moves on; sessions,
   * website sessions, access tokens, approved and unconsumed request tokens end), except the website
   * session `keepWebSessionHash` when one is given: if it still carries the old epoch, it is moved to
   * the new one in the same transaction, and is the only credential that does.
   */
  endAccountCredentials(accountId: number, now: number, keepWebSessionHash: string | null): Promise<void>
  /**
   * Replaces the password hash while it is still `expectedHash` and, in the same transaction, ends
   * every other credential of the account as `endAccountCredentials` does, keeping the website
   * session `keepWebSessionHash`. False (and nothing changed) when the guard failed.
   */
  changeAccountPassword(input: PasswordChange): Promise<boolean>
  /**
   * Records that a website session was used at `now`, unless that was already recorded less than
   * `intervalMs` ago (so a page view writes at most once per interval).
   */
  touchWebSession(sessionHash: string, now: number, intervalMs: number): Promise<void>
  /** Sets the display name; false when no such account exists. */
  setAccountName(accountId: number, name: string): Promise<boolean>
  /**
   * Stores a password reset token. Earlier reset tokens of the same account, and expired ones of
   * any account, are deleted in the same transaction: only the newest link of an account works.
   */
  insertPasswordResetToken(token: PasswordResetTokenRecord): Promise<void>
  /** The reset token, used or expired or not; null when unknown (or replaced by a newer one). */
  findPasswordResetToken(tokenHash: string): Promise<PasswordResetTokenRecord | null>
  /**
   * Uses a live (unexpired, unused) reset token, in one transaction: marks it used, sets the
   * account's password hash and ends every credential of the account (the epoch moves on). The
   * account id, or null when the token was not live. Of any number of racing callers exactly one
   * succeeds.
   */
  resetPasswordWithToken(tokenHash: string, passwordHash: string, now: number): Promise<number | null>
}

/** Which kind of credential a row of the account page is. */
export type CredentialKind = 'session' | 'access_token' | 'web_session'

/** One credential of an account, by its stored hash. */
export interface CredentialRef {
  kind: CredentialKind
  /** The session hash, or the access token's `jti` hash. */
  hash: string
}

export interface AccountCredential extends CredentialRef {
  /** The application's name; null for a website session. */
  appName: string | null
  createdAt: number
  /** When it stops working by itself; null when it lasts until revoked. */
  expiresAt: number | null
  /** When it was last used, where that is recorded (website sessions); null otherwise. */
  lastUsedAt: number | null
}

export interface PasswordChange {
  accountId: number
  passwordHash: string
  expectedHash: string
  now: number
  keepWebSessionHash: string | null
}

export interface PasswordResetTokenRecord {
  tokenHash: string
  accountId: number
  createdAt: number
  expiresAt: number
  usedAt: number | null
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
  /**
   * The credentials epoch: starts at 0 and moves on with every change that ends the account's
   * credentials (a new password that ends sessions, disabling, enabling). A credential works only
   * while the account still has the epoch it was issued under.
   */
  epoch: number
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
  /** The approving account's epoch when it approved; null until approved. */
  epoch: number | null
}

export interface ApproveInput {
  tokenHash: string
  accountId: number
  /** The account's epoch as read with the credential that proved the user (password, website session). */
  epoch: number
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

export type ConsumeResult = { ok: true; accountId: number } | { ok: false; reason: 'pending' | 'denied' | 'invalid' }

export interface SessionRecord {
  sessionHash: string
  appId: string
  accountId: number
  createdAt: number
  /** Null: the session never expires (TMDB's behaviour). */
  expiresAt: number | null
  /** The account's epoch the session was issued under. */
  epoch: number
  /** The access token it was converted from (`convert/4`), which takes it along when deleted; else null. */
  accessTokenIdHash: string | null
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
  /** The approving account's epoch when it approved; null until approved. */
  epoch: number | null
}

export interface AccessTokenRecord {
  /** Hash of the token's `jti`. */
  idHash: string
  appId: string
  accountId: number
  createdAt: number
  revokedAt: number | null
  /** The account's epoch the token was issued under. */
  epoch: number
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
  /** The account's epoch the session was issued under. */
  epoch: number
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

/**
 * `store`, with every failure its own `isDeletedReference` recognizes thrown as DeletedMeanwhileError
 * (answered 503, code 9, `Retry-After: 1`), so that a request racing a deletion is told to retry
 * (and then gets the definite answer) instead of meeting an internal error.
 */
export function withDeletedMeanwhile(store: Store): Store {
  // Each method made once: called on the store itself (whose private fields a proxy does not have).
  const methods = new Map<string, unknown>()
  return new Proxy(store, {
    get(target, name) {
      const value: unknown = Reflect.get(target, name, target)
      if (typeof value !== 'function' || typeof name !== 'string') return value
      let method = methods.get(name)
      if (method === undefined) {
        const own = (value as (...args: unknown[]) => unknown).bind(target)
        // Reads cannot name a deleted row: the hot lookups stay as they are.
        method = READS.test(name)
          ? own
          : async (...args: unknown[]): Promise<unknown> => {
              try {
                return await own(...args)
              } catch (error) {
                throw target.isDeletedReference(error) ? new DeletedMeanwhileError(error) : error
              }
            }
        methods.set(name, method)
      }
      return method
    },
  })
}

const READS = /^(find|list|get|count|ping|export|is[A-Z]|poolStats|schemaVersion|close)/
