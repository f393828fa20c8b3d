import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { StoreUnavailableError } from '../../core/errors.js'
import type {
  AccessTokenRecord,
  AccountRecord,
  ApplicationRecord,
  ApproveInput,
  ConsumeResult,
  GuestSessionRecord,
  LiveCounts,
  NewAccount,
  RequestTokenRecord,
  SessionRecord,
  SigningKeyRecord,
  Store,
  StoreSnapshot,
  V4RequestTokenRecord,
  WebSessionRecord,
} from '../../core/store.js'
import { LookupBatcher } from '../batching/lookup-batcher.js'
import { TransactionBatcher } from '../batching/transaction-batcher.js'
import * as accounts from '../sql/accounts.js'
import * as applications from '../sql/applications.js'
import * as guestSessions from '../sql/guest-sessions.js'
import * as meta from '../sql/meta.js'
import { purgeExpired } from '../sql/purge.js'
import { all, perform, type Work } from '../sql/queryable.js'
import * as requestTokens from '../sql/request-tokens.js'
import { mapped, toSessionWithAccount, type SessionWithAccountRow } from '../sql/rows.js'
import * as sessions from '../sql/sessions.js'
import * as signingKeys from '../sql/signing-keys.js'
import * as snapshot from '../sql/snapshot.js'
import * as v4 from '../sql/v4.js'
import * as webSessions from '../sql/web-sessions.js'
import { startCheckpointer, type Checkpointer } from './checkpointer.js'
import { SQLITE_MIGRATIONS } from './migrations.js'
import { PreparedStatements, type SqliteConnection } from './sqlite-connection.js'

export interface SqliteStoreOptions {
  /**
   * `normal` (default): a commit survives a crash of cinepass, and may be lost by a power loss or OS crash.
   * `full`: every commit is on disk before it is acknowledged.
   */
  synchronous?: 'normal' | 'full'
  /**
   * Checkpoint the WAL on a worker thread instead of inside commits (for a serving process; short
   * CLI commands leave it to SQLite's automatic checkpoints).
   */
  checkpointInBackground?: boolean
  /**
   * Wraps the connection every statement of the store goes through, transaction control included
   * (to observe it, or to make it fail as a failing disk would). Default: none.
   */
  wrapConnection?: (connection: SqliteConnection) => SqliteConnection
}

// SQLite's page cache, MiB: pages are kept only as they are read, up to this much.
const PAGE_CACHE_MB = 16

// A snapshot copy's multi-row inserts stay within SQLite's oldest limit on parameters per statement.
const MAX_PARAMS = 999

// One JSON array of hashes as the list: one prepared statement whatever the batch's size.
const SESSIONS_WITH_ACCOUNTS = sessions.sessionsWithAccountsSql('IN (SELECT value FROM json_each(?))')

// SQLite error codes meaning the database cannot take the operation now (disk full, I/O, locked too
// long): the request fails closed with 503 rather than as a bug.
const UNAVAILABLE_CODES = /^SQLITE_(FULL|IOERR|BUSY|LOCKED|CANTOPEN|READONLY|NOMEM|PROTOCOL)/

/**
 * The embedded backend: one SQLite file in WAL mode, through better-sqlite3's synchronous API. The
 * SQL is the aggregates' (`store/sql/`), run synchronously: every write joins the group commit of
 * its event-loop turn (`TransactionBatcher`), every read runs at once.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite'
  readonly path: string
  readonly #db: Database.Database
  readonly #connection: SqliteConnection
  readonly #writes: TransactionBatcher
  #checkpointer: Checkpointer | undefined
  // The session check is the most frequent request, and a statement of its own per check (each taking
  // and dropping the file's read locks) cost more than the lookup: the checks of one turn share one.
  readonly #sessionChecks = new LookupBatcher<string, SessionWithAccountRow>(
    (row) => row.session_hash,
    (sessionHashes) => this.#read(all<SessionWithAccountRow>(SESSIONS_WITH_ACCOUNTS, JSON.stringify(sessionHashes))),
  )

  private constructor(path: string, db: Database.Database, connection: SqliteConnection) {
    this.path = path
    this.#db = db
    this.#connection = connection
    this.#writes = new TransactionBatcher(connection, isUnavailable)
  }

  /** Opens (creating if needed) the database file and applies pending migrations. */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
    let db: Database.Database
    try {
      db = new Database(path)
    } catch (error) {
      throw new StoreUnavailableError(error)
    }
    db.pragma('journal_mode = WAL')
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`)
    db.pragma('busy_timeout = 5000')
    db.pragma('foreign_keys = ON')
    // Tokens and sessions are looked up by random hashes, so the hot pages are spread over the whole
    // index: SQLite's default 2 MiB page cache would send most lookups to the OS (docs/performance.md).
    db.pragma(`cache_size = -${PAGE_CACHE_MB * 1024}`)
    const prepared = new PreparedStatements(db)
    const store = new SqliteStore(path, db, options.wrapConnection?.(prepared) ?? prepared)
    store.migrate()
    if (options.checkpointInBackground && path !== ':memory:') {
      db.pragma('wal_autocheckpoint = 0')
      // While the checkpointer finishes a pass (at most 250 ms), writes are queued and no batch runs.
      store.#checkpointer = startCheckpointer(path, { pause: () => store.#writes.pause(), resume: () => store.#writes.resume() })
    }
    return store
  }

  /** Applies every migration not yet recorded; several processes may race here safely. */
  migrate(): number {
    const db = this.#db
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)')
    const apply = db.transaction(() => {
      const done = new Set(db.prepare<[], { version: number }>('SELECT version FROM schema_migrations').all().map((r) => r.version))
      let applied = 0
      for (const migration of SQLITE_MIGRATIONS) {
        if (done.has(migration.version)) continue
        db.exec(migration.sql)
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(migration.version, migration.name, Date.now())
        applied++
      }
      return applied
    })
    return apply.immediate()
  }

  schemaVersion(): Promise<number> {
    return this.#read(meta.schemaVersion())
  }

  /** Copies the database to `target` while it stays in use (SQLite's online backup). */
  async backup(target: string): Promise<void> {
    await this.#run(() => this.#db.backup(target))
  }

  // Every read runs through here, so driver errors that mean "the database is unusable now" become
  // StoreUnavailableError, and the result is a promise like every other backend's.
  async #run<T>(work: () => T): Promise<T> {
    try {
      return work()
    } catch (error) {
      if (isUnavailable(error)) throw new StoreUnavailableError(error)
      throw error
    }
  }

  #read<T>(work: Work<T>): Promise<T> {
    return this.#run(() => perform(work, this.#connection))
  }

  /** Every write joins the group commit of its turn; `work` is made afresh if the batch is replayed. */
  #write<T>(work: () => Work<T>): Promise<T> {
    return this.#writes.write(() => perform(work(), this.#connection))
  }

  ping(): Promise<void> {
    return this.#read(meta.ping())
  }

  async close(): Promise<void> {
    if (!this.#db.open) return
    // Stopping the checkpointer ends any pause of the writes; then the writes already queued are
    // committed (or failed) before the database goes.
    await this.#checkpointer?.stop()
    this.#writes.resume()
    await this.#writes.flush()
    await this.#sessionChecks.flush()
    try {
      this.#db.pragma('wal_checkpoint(TRUNCATE)')
    } catch {
      // A checkpoint is an optimisation; the WAL is replayed on the next open anyway.
    }
    this.#db.close()
  }

  getMeta(key: string): Promise<string | null> {
    return this.#read(meta.getMeta(key))
  }

  setMetaIfAbsent(key: string, value: string): Promise<boolean> {
    return this.#write(() => meta.setMetaIfAbsent(key, value))
  }

  insertApplication(app: ApplicationRecord): Promise<void> {
    return this.#write(() => applications.insertApplication(app))
  }

  findApplicationById(id: string): Promise<ApplicationRecord | null> {
    return this.#read(applications.findApplicationById(id))
  }

  findApplicationByKeyHash(apiKeyHash: string): Promise<ApplicationRecord | null> {
    return this.#read(applications.findApplicationByKeyHash(apiKeyHash))
  }

  listApplications(): Promise<ApplicationRecord[]> {
    return this.#read(applications.listApplications())
  }

  setApplicationSuspended(id: string, suspended: boolean): Promise<boolean> {
    return this.#write(() => applications.setApplicationSuspended(id, suspended))
  }

  insertAccount(account: NewAccount): Promise<AccountRecord | null> {
    return this.#write(() => accounts.insertAccount(account))
  }

  findAccountByUsername(username: string): Promise<AccountRecord | null> {
    return this.#read(accounts.findAccountByUsername(username))
  }

  findAccountById(id: number): Promise<AccountRecord | null> {
    return this.#read(accounts.findAccountById(id))
  }

  findAccountByObjectId(objectId: string): Promise<AccountRecord | null> {
    return this.#read(accounts.findAccountByObjectId(objectId))
  }

  listAccounts(): Promise<AccountRecord[]> {
    return this.#read(accounts.listAccounts())
  }

  setAccountDisabled(id: number, disabled: boolean, now: number): Promise<boolean> {
    return this.#write(() => accounts.setAccountDisabled(id, disabled, now))
  }

  setAccountPassword(id: number, passwordHash: string, endSessions: boolean, now: number, expectedHash?: string): Promise<boolean> {
    return this.#write(() => accounts.setAccountPassword(id, passwordHash, endSessions, now, expectedHash))
  }

  insertRequestToken(token: RequestTokenRecord): Promise<void> {
    return this.#write(() => requestTokens.insertRequestToken(token))
  }

  findRequestToken(tokenHash: string): Promise<RequestTokenRecord | null> {
    return this.#read(requestTokens.findRequestToken(tokenHash))
  }

  approveRequestToken(input: ApproveInput): Promise<RequestTokenRecord | null> {
    return this.#write(() => requestTokens.approveRequestToken(input))
  }

  denyRequestToken(tokenHash: string, now: number): Promise<RequestTokenRecord | null> {
    return this.#write(() => requestTokens.denyRequestToken(tokenHash, now))
  }

  createSessionFromRequestToken(tokenHash: string, appId: string, now: number, session: Omit<SessionRecord, 'accountId'>): Promise<ConsumeResult> {
    return this.#write(() => requestTokens.createSessionFromRequestToken(tokenHash, appId, now, session))
  }

  insertSession(session: SessionRecord): Promise<void> {
    return this.#write(() => sessions.insertSession(session))
  }

  findSession(sessionHash: string): Promise<SessionRecord | null> {
    return this.#read(sessions.findSession(sessionHash))
  }

  async findSessionWithAccount(sessionHash: string): Promise<{ session: SessionRecord; account: AccountRecord } | null> {
    return mapped(await this.#sessionChecks.find(sessionHash), toSessionWithAccount)
  }

  deleteSession(sessionHash: string, appId: string): Promise<boolean> {
    return this.#write(() => sessions.deleteSession(sessionHash, appId))
  }

  insertGuestSession(session: GuestSessionRecord): Promise<void> {
    return this.#write(() => guestSessions.insertGuestSession(session))
  }

  findGuestSession(sessionHash: string): Promise<GuestSessionRecord | null> {
    return this.#read(guestSessions.findGuestSession(sessionHash))
  }

  insertV4RequestToken(token: V4RequestTokenRecord): Promise<void> {
    return this.#write(() => v4.insertV4RequestToken(token))
  }

  findV4RequestToken(idHash: string): Promise<V4RequestTokenRecord | null> {
    return this.#read(v4.findV4RequestToken(idHash))
  }

  approveV4RequestToken(idHash: string, accountId: number, now: number): Promise<V4RequestTokenRecord | null> {
    return this.#write(() => v4.approveV4RequestToken(idHash, accountId, now))
  }

  denyV4RequestToken(idHash: string, now: number): Promise<V4RequestTokenRecord | null> {
    return this.#write(() => v4.denyV4RequestToken(idHash, now))
  }

  createAccessTokenFromRequestToken(idHash: string, appId: string, now: number, accessToken: Omit<AccessTokenRecord, 'accountId'>): Promise<ConsumeResult> {
    return this.#write(() => v4.createAccessTokenFromRequestToken(idHash, appId, now, accessToken))
  }

  findAccessToken(idHash: string): Promise<AccessTokenRecord | null> {
    return this.#read(v4.findAccessToken(idHash))
  }

  revokeAccessToken(idHash: string, appId: string, now: number): Promise<boolean> {
    return this.#write(() => v4.revokeAccessToken(idHash, appId, now))
  }

  listSigningKeys(): Promise<SigningKeyRecord[]> {
    return this.#read(signingKeys.listSigningKeys())
  }

  insertSigningKey(key: SigningKeyRecord): Promise<void> {
    return this.#write(() => signingKeys.insertSigningKey(key))
  }

  retireSigningKey(kid: string, now: number): Promise<boolean> {
    return this.#write(() => signingKeys.retireSigningKey(kid, now))
  }

  insertWebSession(session: WebSessionRecord): Promise<void> {
    return this.#write(() => webSessions.insertWebSession(session))
  }

  findWebSession(sessionHash: string): Promise<WebSessionRecord | null> {
    return this.#read(webSessions.findWebSession(sessionHash))
  }

  deleteWebSession(sessionHash: string): Promise<void> {
    return this.#write(() => webSessions.deleteWebSession(sessionHash))
  }

  purgeExpired(now: number, limit: number): Promise<number> {
    return this.#write(() => purgeExpired(now, limit))
  }

  isEmpty(): Promise<boolean> {
    return this.#read(snapshot.isEmpty())
  }

  exportAll(): Promise<StoreSnapshot> {
    // A deferred transaction: one read snapshot of the WAL for every table.
    return this.#run(() => this.#db.transaction(() => perform(snapshot.exportAll(), this.#connection)).deferred())
  }

  replaceAll(content: StoreSnapshot): Promise<void> {
    return this.#write(() => snapshot.replaceAll(content, MAX_PARAMS))
  }

  countLive(now: number): Promise<LiveCounts> {
    return this.#read(meta.countLive(now))
  }
}

function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string' && UNAVAILABLE_CODES.test(code)) return true
  return error instanceof TypeError && /database connection is not open/.test(error.message)
}
