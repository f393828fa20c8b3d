import type {
  AccessTokenRecord,
  AccountCredential,
  AccountRecord,
  ApplicationRecord,
  ApproveInput,
  ConsumeResult,
  CredentialRef,
  GuestSessionRecord,
  IssuedRequestToken,
  IssuedV4RequestToken,
  LiveCounts,
  NewAccount,
  PasswordChange,
  PasswordResetTokenRecord,
  RequestTokenRecord,
  SessionRecord,
  SigningKeyRecord,
  Store,
  StoreSnapshot,
  V4RequestTokenRecord,
  WebSessionRecord,
} from '../../core/store.js'
import { LookupBatcher } from '../batching/lookup-batcher.js'
import * as accountCredentials from './account-credentials.js'
import * as accounts from './accounts.js'
import * as applications from './applications.js'
import * as guestSessions from './guest-sessions.js'
import * as meta from './meta.js'
import * as passwordResets from './password-resets.js'
import { purgeExpired } from './purge.js'
import type { Work } from './queryable.js'
import * as requestTokens from './request-tokens.js'
import { mapped, toSessionWithAccount, type SessionWithAccountRow } from './rows.js'
import * as sessions from './sessions.js'
import * as signingKeys from './signing-keys.js'
import * as snapshot from './snapshot.js'
import * as v4 from './v4.js'
import * as webSessions from './web-sessions.js'

/** A session as core asks for one: the store adds whose it is and the epoch it is issued under. */
type NewSession = Omit<SessionRecord, 'accountId' | 'epoch' | 'accessTokenIdHash'>

/**
 * Every `Store` method of a SQL backend, each one of the aggregates' operations (`store/sql/`) run
 * the way its backend runs that kind of work. A backend supplies how to run work (the abstract
 * methods below) and overrides the methods it batches or runs differently.
 */
export abstract class SqlStore implements Store {
  abstract readonly kind: string
  /** Most parameters one statement of a snapshot copy may carry. */
  protected abstract readonly maxParams: number
  /** How a transaction locks a row it reads (` FOR UPDATE`), or '' where writes run one at a time. */
  protected abstract readonly forUpdate: string
  /** True when the backend would give a deleted account's id to a new one (SQLite's rowids). */
  protected abstract readonly reusesDeletedIds: boolean
  // The session check is the most frequent request: the checks of one event-loop turn share one
  // statement (one round trip; on SQLite, one taking of the file's read locks).
  readonly #sessionChecks = new LookupBatcher<string, SessionWithAccountRow>(
    (row) => row.session_hash,
    (hashes) => this.readSessionsWithAccounts(hashes),
  )

  /** Runs a read (one statement, or several that need no common snapshot). */
  protected abstract read<T>(work: Work<T>): Promise<T>
  /** Runs a write of one statement; `work` may be made more than once (a replayed batch). */
  protected abstract write<T>(work: () => Work<T>): Promise<T>
  /** Runs a write of several statements in one transaction; `work` may be made more than once. */
  protected abstract transaction<T>(work: () => Work<T>): Promise<T>
  /** Runs several reads in one transaction, so they see one snapshot of the database. */
  protected abstract readSnapshot<T>(work: Work<T>): Promise<T>
  /** The session checks' statement (`sessionsWithAccountsSql`) for the distinct `hashes`. */
  protected abstract readSessionsWithAccounts(hashes: string[]): Promise<SessionWithAccountRow[]>

  abstract close(): Promise<void>

  abstract isDeletedReference(error: unknown): boolean

  /** Answers the session checks still waiting (for `close()`). */
  protected flushSessionChecks(): Promise<void> {
    return this.#sessionChecks.flush()
  }

  ping(): Promise<void> {
    return this.read(meta.ping())
  }

  schemaVersion(): Promise<number> {
    return this.read(meta.schemaVersion())
  }

  getMeta(key: string): Promise<string | null> {
    return this.read(meta.getMeta(key))
  }

  setMetaIfAbsent(key: string, value: string): Promise<boolean> {
    return this.write(() => meta.setMetaIfAbsent(key, value))
  }

  insertApplication(app: ApplicationRecord): Promise<void> {
    return this.write(() => applications.insertApplication(app))
  }

  findApplicationById(id: string): Promise<ApplicationRecord | null> {
    return this.read(applications.findApplicationById(id))
  }

  findApplicationByKeyHash(apiKeyHash: string): Promise<ApplicationRecord | null> {
    return this.read(applications.findApplicationByKeyHash(apiKeyHash))
  }

  listApplications(): Promise<ApplicationRecord[]> {
    return this.read(applications.listApplications())
  }

  setApplicationSuspended(id: string, suspended: boolean): Promise<boolean> {
    return this.write(() => applications.setApplicationSuspended(id, suspended))
  }

  setApplicationKeyHash(id: string, apiKeyHash: string): Promise<boolean> {
    return this.write(() => applications.setApplicationKeyHash(id, apiKeyHash))
  }

  deleteApplication(id: string): Promise<boolean> {
    return this.transaction(() => applications.deleteApplication(id, this.forUpdate))
  }

  insertAccount(account: NewAccount): Promise<AccountRecord | null> {
    return this.write(() => accounts.insertAccount(account, this.reusesDeletedIds))
  }

  findAccountByUsername(username: string): Promise<AccountRecord | null> {
    return this.read(accounts.findAccountByUsername(username))
  }

  findAccountById(id: number): Promise<AccountRecord | null> {
    return this.read(accounts.findAccountById(id))
  }

  findAccountByObjectId(objectId: string): Promise<AccountRecord | null> {
    return this.read(accounts.findAccountByObjectId(objectId))
  }

  listAccounts(): Promise<AccountRecord[]> {
    return this.read(accounts.listAccounts())
  }

  setAccountDisabled(id: number, disabled: boolean, now: number): Promise<boolean> {
    return this.transaction(() => accounts.setAccountDisabled(id, disabled, now))
  }

  setAccountPassword(id: number, passwordHash: string, endSessions: boolean, now: number, expectedHash?: string): Promise<boolean> {
    return this.transaction(() => accounts.setAccountPassword(id, passwordHash, endSessions, now, expectedHash))
  }

  deleteAccount(id: number): Promise<boolean> {
    return this.transaction(() => accounts.deleteAccount(id, this.forUpdate))
  }

  insertRequestToken(token: RequestTokenRecord): Promise<void> {
    return this.write(() => requestTokens.insertRequestToken(token))
  }

  findRequestToken(tokenHash: string): Promise<RequestTokenRecord | null> {
    return this.read(requestTokens.findRequestToken(tokenHash))
  }

  approveRequestToken(input: ApproveInput): Promise<RequestTokenRecord | null> {
    return this.write(() => requestTokens.approveRequestToken(input))
  }

  denyRequestToken(tokenHash: string, now: number, issued?: IssuedRequestToken): Promise<RequestTokenRecord | null> {
    return this.write(() => requestTokens.denyRequestToken(tokenHash, now, issued))
  }

  createSessionFromRequestToken(tokenHash: string, appId: string, now: number, session: NewSession): Promise<ConsumeResult> {
    return this.transaction(() => requestTokens.createSessionFromRequestToken(tokenHash, appId, now, session))
  }

  createSessionFromAccessToken(accessTokenIdHash: string, session: NewSession): Promise<number | null> {
    return this.write(() => sessions.createSessionFromAccessToken(accessTokenIdHash, session))
  }

  insertSession(session: SessionRecord): Promise<void> {
    return this.write(() => sessions.insertSession(session))
  }

  findSession(sessionHash: string): Promise<SessionRecord | null> {
    return this.read(sessions.findSession(sessionHash))
  }

  async findSessionWithAccount(sessionHash: string): Promise<{ session: SessionRecord; account: AccountRecord } | null> {
    return mapped(await this.#sessionChecks.find(sessionHash), toSessionWithAccount)
  }

  deleteSession(sessionHash: string, appId: string): Promise<boolean> {
    return this.write(() => sessions.deleteSession(sessionHash, appId))
  }

  insertGuestSession(session: GuestSessionRecord): Promise<void> {
    return this.write(() => guestSessions.insertGuestSession(session))
  }

  findGuestSession(sessionHash: string): Promise<GuestSessionRecord | null> {
    return this.read(guestSessions.findGuestSession(sessionHash))
  }

  insertV4RequestToken(token: V4RequestTokenRecord): Promise<void> {
    return this.write(() => v4.insertV4RequestToken(token))
  }

  findV4RequestToken(idHash: string): Promise<V4RequestTokenRecord | null> {
    return this.read(v4.findV4RequestToken(idHash))
  }

  approveV4RequestToken(idHash: string, accountId: number, now: number, epoch: number, issued?: IssuedV4RequestToken): Promise<V4RequestTokenRecord | null> {
    return this.write(() => v4.approveV4RequestToken(idHash, accountId, now, epoch, issued))
  }

  denyV4RequestToken(idHash: string, now: number, issued?: IssuedV4RequestToken): Promise<V4RequestTokenRecord | null> {
    return this.write(() => v4.denyV4RequestToken(idHash, now, issued))
  }

  createAccessTokenFromRequestToken(
    idHash: string,
    appId: string,
    now: number,
    accessToken: Omit<AccessTokenRecord, 'accountId' | 'epoch'>,
  ): Promise<ConsumeResult> {
    return this.transaction(() => v4.createAccessTokenFromRequestToken(idHash, appId, now, accessToken))
  }

  findAccessToken(idHash: string): Promise<AccessTokenRecord | null> {
    return this.read(v4.findAccessToken(idHash))
  }

  revokeAccessToken(idHash: string, appId: string, now: number): Promise<boolean> {
    return this.transaction(() => v4.revokeAccessToken(idHash, appId, now))
  }

  listSigningKeys(): Promise<SigningKeyRecord[]> {
    return this.read(signingKeys.listSigningKeys())
  }

  insertSigningKey(key: SigningKeyRecord): Promise<void> {
    return this.write(() => signingKeys.insertSigningKey(key))
  }

  retireSigningKey(kid: string, now: number): Promise<boolean> {
    return this.write(() => signingKeys.retireSigningKey(kid, now))
  }

  insertWebSession(session: WebSessionRecord): Promise<boolean> {
    return this.write(() => webSessions.insertWebSession(session))
  }

  findWebSession(sessionHash: string): Promise<WebSessionRecord | null> {
    return this.read(webSessions.findWebSession(sessionHash))
  }

  deleteWebSession(sessionHash: string): Promise<void> {
    return this.write(() => webSessions.deleteWebSession(sessionHash))
  }

  purgeExpired(now: number, limit: number): Promise<number> {
    return this.transaction(() => purgeExpired(now, limit))
  }

  isEmpty(): Promise<boolean> {
    return this.read(snapshot.isEmpty())
  }

  exportAll(): Promise<StoreSnapshot> {
    return this.readSnapshot(snapshot.exportAll())
  }

  replaceAll(content: StoreSnapshot): Promise<void> {
    return this.transaction(() => snapshot.replaceAll(content, this.maxParams))
  }

  countLive(now: number): Promise<LiveCounts> {
    return this.read(meta.countLive(now))
  }

  listAccountCredentials(accountId: number, now: number, limit: number): Promise<AccountCredential[]> {
    return this.read(accountCredentials.listAccountCredentials(accountId, now, limit))
  }

  endAccountCredential(accountId: number, credential: CredentialRef, now: number): Promise<boolean> {
    return this.write(() => accountCredentials.endAccountCredential(accountId, credential, now))
  }

  endAccountCredentials(accountId: number, now: number, keepWebSessionHash: string | null): Promise<void> {
    return this.transaction(() => accounts.endAccountCredentials(accountId, now, keepWebSessionHash))
  }

  changeAccountPassword(input: PasswordChange): Promise<boolean> {
    return this.transaction(() => accountCredentials.changeAccountPassword(input))
  }

  touchWebSession(sessionHash: string, now: number, intervalMs: number): Promise<void> {
    return this.write(() => accountCredentials.touchWebSession(sessionHash, now, intervalMs))
  }

  setAccountName(accountId: number, name: string): Promise<boolean> {
    return this.write(() => accounts.setAccountName(accountId, name))
  }

  insertPasswordResetToken(token: PasswordResetTokenRecord): Promise<void> {
    return this.transaction(() => passwordResets.insertPasswordResetToken(token))
  }

  findPasswordResetToken(tokenHash: string): Promise<PasswordResetTokenRecord | null> {
    return this.read(passwordResets.findPasswordResetToken(tokenHash))
  }

  resetPasswordWithToken(tokenHash: string, passwordHash: string, now: number): Promise<number | null> {
    return this.transaction(() => passwordResets.resetPasswordWithToken(tokenHash, passwordHash, now))
  }
}
