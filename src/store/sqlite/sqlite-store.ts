import Database from 'better-sqlite3'
import { StoreUnavailableError } from '../../core/errors.js'
import { TransactionBatcher } from '../batching/transaction-batcher.js'
import { all, perform, type Work } from '../sql/queryable.js'
import type { SessionWithAccountRow } from '../sql/rows.js'
import { sessionsWithAccountsSql } from '../sql/sessions.js'
import { SqlStore } from '../sql/sql-store.js'
import { createPrivateDatabaseFile, makePrivate } from './file-modes.js'
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
const SESSIONS_WITH_ACCOUNTS = sessionsWithAccountsSql('IN (SELECT value FROM json_each(?))')

// SQLite error codes meaning the database cannot take the operation now (disk full, I/O, locked too
// long): the request fails closed with 503 rather than as a bug.
const UNAVAILABLE_CODES = /^SQLITE_(FULL|IOERR|BUSY|LOCKED|CANTOPEN|READONLY|NOMEM|PROTOCOL)/

/**
 * The embedded backend: one SQLite file in WAL mode, through better-sqlite3's synchronous API. The
 * SQL is the aggregates' (`store/sql/`), run synchronously: every write joins the group commit of
 * its event-loop turn (`TransactionBatcher`), every read runs at once.
 */
export class SqliteStore extends SqlStore {
  readonly kind = 'sqlite'
  protected readonly maxParams = MAX_PARAMS
  protected readonly forUpdate = ''
  protected readonly reusesDeletedIds = true
  readonly path: string
  readonly #db: Database.Database
  readonly #connection: SqliteConnection
  readonly #writes: TransactionBatcher
  #checkpointer: Checkpointer | undefined

  private constructor(path: string, db: Database.Database, connection: SqliteConnection) {
    super()
    this.path = path
    this.#db = db
    this.#connection = connection
    this.#writes = new TransactionBatcher(connection, isUnavailable)
  }

  /** Opens (creating if needed) the database file and applies pending migrations. */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    if (path !== ':memory:') createPrivateDatabaseFile(path)
    let db: Database.Database
    try {
      db = new Database(path)
    } catch (error) {
      throw new StoreUnavailableError(error)
    }
    db.pragma('journal_mode = WAL')
    if (path !== ':memory:') makePrivate(path)
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
      const done = new Set(
        db
          .prepare<[], { version: number }>('SELECT version FROM schema_migrations')
          .all()
          .map((r) => r.version),
      )
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

  /** Copies the database to `target` while it stays in use (SQLite's online backup). */
  async backup(target: string): Promise<void> {
    createPrivateDatabaseFile(target)
    await this.#run(() => this.#db.backup(target))
    makePrivate(target)
  }

  // Every read runs through here, so driver errors that mean "the database is unusable now" become
  // StoreUnavailableError, and the result is a promise like every other backend's.
  // eslint-disable-next-line @typescript-eslint/require-await -- async is what turns work()'s synchronous throw into a rejection
  async #run<T>(work: () => T): Promise<T> {
    try {
      return work()
    } catch (error) {
      if (isUnavailable(error)) throw new StoreUnavailableError(error)
      throw error
    }
  }

  protected read<T>(work: Work<T>): Promise<T> {
    return this.#run(() => perform(work, this.#connection))
  }

  /** Every write joins the group commit of its turn; `work` is made afresh if the batch is replayed. */
  protected write<T>(work: () => Work<T>): Promise<T> {
    return this.#writes.write(() => perform(work(), this.#connection))
  }

  isDeletedReference(error: unknown): boolean {
    return (error as { code?: unknown } | null)?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY'
  }

  // A write's statements all run in its batch's transaction anyway.
  protected transaction<T>(work: () => Work<T>): Promise<T> {
    return this.write(work)
  }

  protected readSnapshot<T>(work: Work<T>): Promise<T> {
    // A deferred transaction: one read snapshot of the WAL for every table.
    return this.#run(() => this.#db.transaction(() => perform(work, this.#connection)).deferred())
  }

  protected readSessionsWithAccounts(hashes: string[]): Promise<SessionWithAccountRow[]> {
    return this.read(all<SessionWithAccountRow>(SESSIONS_WITH_ACCOUNTS, JSON.stringify(hashes)))
  }

  async close(): Promise<void> {
    if (!this.#db.open) return
    // Stopping the checkpointer ends any pause of the writes; then the writes already queued are
    // committed (or failed) before the database goes.
    await this.#checkpointer?.stop()
    this.#writes.resume()
    await this.#writes.flush()
    await this.flushSessionChecks()
    try {
      this.#db.pragma('wal_checkpoint(TRUNCATE)')
    } catch {
      // A checkpoint is an optimisation; the WAL is replayed on the next open anyway.
    }
    this.#db.close()
  }
}

function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string' && UNAVAILABLE_CODES.test(code)) return true
  return error instanceof TypeError && /database connection is not open/.test(error.message)
}
