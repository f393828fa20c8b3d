import pg from 'pg'
import { StoreUnavailableError } from '../../core/errors.js'
import type { AccountRecord, ConsumeResult, GuestSessionRecord, PoolStats, RequestTokenRecord, SessionRecord, StoreSnapshot } from '../../core/store.js'
import { InsertBatcher } from '../batching/insert-batcher.js'
import { KeyedWriteBatcher } from '../batching/keyed-write-batcher.js'
import { LookupBatcher } from '../batching/lookup-batcher.js'
import { HIGHEST_ACCOUNT_ID_SQL, accountsByIdSql } from '../sql/accounts.js'
import { GUEST_SESSIONS } from '../sql/guest-sessions.js'
import { numbered, performAsync, type AsyncQueryable, type Param, type Work } from '../sql/queryable.js'
import { REQUEST_TOKENS, createSessionFromRequestToken } from '../sql/request-tokens.js'
import { mapped, toAccount, type AccountRow, type SessionWithAccountRow } from '../sql/rows.js'
import { SESSIONS, createSessionFromAccessToken, deleteSession, sessionsWithAccountsSql } from '../sql/sessions.js'
import * as snapshot from '../sql/snapshot.js'
import { SqlStore } from '../sql/sql-store.js'
import { insertSql, type Table } from '../sql/table.js'
import {
  DELETE_SESSIONS,
  SESSIONS_FROM_ACCESS_TOKENS,
  SESSIONS_FROM_TOKENS,
  deleteSessionsParams,
  sessionsFromAccessTokensParams,
  sessionFromTokenOutcome,
  sessionsFromTokensParams,
  unnestInsertSql,
  type SessionFromAccessToken,
  type SessionFromToken,
  type SessionFromTokenRow,
  type SessionToDelete,
} from './batched-statements.js'
import { failsWholeBatch, isForeignKeyViolation, isUnavailable } from './errors.js'
import { POSTGRES_MIGRATIONS } from './migrations.js'

export { isUnavailable }

export interface PostgresStoreOptions {
  /** Most connections this process opens (`CINEPASS_PG_POOL`, default 10). */
  poolSize?: number
  /** Longest a statement may run before the server cancels it, ms (`CINEPASS_PG_STATEMENT_TIMEOUT`, default 1000). */
  statementTimeoutMs?: number
  /** Longest to wait for a connection (new, or free in the pool), ms (default 1500, so an outage fails within 2 s). */
  connectTimeoutMs?: number
}

export const DEFAULT_PG_POOL = 10
export const DEFAULT_PG_STATEMENT_TIMEOUT_MS = 1000
const DEFAULT_CONNECT_TIMEOUT_MS = 1500
// How much longer than the statement timeout the client waits for an answer before giving up.
const CLIENT_GRACE_MS = 500

// Any constant: every cinepass instance on one database takes this advisory lock while migrating.
const MIGRATION_LOCK = 0x63696e65

// A snapshot copy's multi-row inserts stay within PostgreSQL's 65535 parameters per statement.
const MAX_PARAMS = 60_000

// BIGINT (oid 20) arrives as a string by default; our BIGINTs are epoch milliseconds and counts, all
// far inside Number's exact range.
const INT8_OID = 20
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown =>
    oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
}

const SESSIONS_WITH_ACCOUNTS = sessionsWithAccountsSql('= ANY($1::text[])')
const ACCOUNTS_BY_ID = accountsByIdSql('= ANY($1::integer[])')

/** The aggregates' statements (written with `?`) on the pool or on one transaction's connection. */
class PgQueryable implements AsyncQueryable {
  constructor(private readonly on: Pick<pg.PoolClient, 'query'>) {}

  async run(sql: string, params: Param[]): Promise<number> {
    return (await this.on.query(numbered(sql), params)).rowCount ?? 0
  }

  async get(sql: string, params: Param[]): Promise<unknown> {
    return (await this.on.query(numbered(sql), params)).rows[0]
  }

  async all(sql: string, params: Param[]): Promise<unknown[]> {
    return (await this.on.query<Record<string, unknown>>(numbered(sql), params)).rows
  }
}

/**
 * The shared backend: any number of cinepass instances on one PostgreSQL database, through a
 * `pg.Pool`. The SQL is the aggregates' (`store/sql/`); every method is one statement or one
 * transaction; single-use credentials are consumed with a guarded `UPDATE … RETURNING` whose row
 * count decides the one winner (under READ COMMITTED a racing UPDATE waits for the row lock, re-checks
 * the guard and finds the token consumed). The hot endpoints' writes and the session checks are
 * group-committed per event-loop turn (`store/batching/`). Nothing is cached: a deletion is seen by
 * every instance on its next read.
 */
export class PostgresStore extends SqlStore {
  readonly kind = 'postgres'
  protected readonly maxParams = MAX_PARAMS
  protected readonly forUpdate = ' FOR UPDATE'
  // A sequence numbers the accounts: it never goes back.
  protected readonly reusesDeletedIds = false
  readonly #pool: pg.Pool
  readonly #onPool: PgQueryable
  #closing: Promise<void> | undefined
  readonly #requestTokens: InsertBatcher
  readonly #guestSessions: InsertBatcher
  readonly #sessions: InsertBatcher
  // session/new reads the account of every session it creates.
  readonly #accountsById: LookupBatcher<number, AccountRow>
  readonly #sessionsFromTokens: KeyedWriteBatcher<SessionFromToken, ConsumeResult, SessionFromTokenRow>
  readonly #sessionDeletions: KeyedWriteBatcher<SessionToDelete, boolean, { batch_key: string }>
  readonly #sessionsFromAccessTokens: KeyedWriteBatcher<SessionFromAccessToken, number | null, { batch_key: string; account_id: number }>

  private constructor(pool: pg.Pool) {
    super()
    this.#pool = pool
    this.#onPool = new PgQueryable(pool)
    this.#sessionsFromTokens = new KeyedWriteBatcher({
      key: (request) => request.tokenHash,
      run: (requests) => this.#rows<SessionFromTokenRow>(SESSIONS_FROM_TOKENS, sessionsFromTokensParams(requests)),
      outcome: sessionFromTokenOutcome,
      alone: ({ tokenHash, appId, now, session }) => this.transaction(() => createSessionFromRequestToken(tokenHash, appId, now, session)),
      // Driver errors as they are: the batcher tells an outage from a deadlock or a timeout.
      unavailable: failsWholeBatch,
    })
    this.#sessionDeletions = new KeyedWriteBatcher({
      key: (request: SessionToDelete) => request.sessionHash,
      run: (requests) => this.#rows<{ batch_key: string }>(DELETE_SESSIONS, deleteSessionsParams(requests)),
      outcome: (row) => row !== undefined,
      alone: ({ sessionHash, appId }) => this.write(() => deleteSession(sessionHash, appId)),
      unavailable: failsWholeBatch,
    })
    this.#sessionsFromAccessTokens = new KeyedWriteBatcher({
      key: (request: SessionFromAccessToken) => request.session.sessionHash,
      run: (requests) => this.#rows<{ batch_key: string; account_id: number }>(SESSIONS_FROM_ACCESS_TOKENS, sessionsFromAccessTokensParams(requests)),
      // No row: the guard refused it (the statement's own snapshot decides, as alone it would).
      outcome: (row) => row?.account_id ?? null,
      alone: ({ accessTokenIdHash, session }) => this.write(() => createSessionFromAccessToken(accessTokenIdHash, session)),
      unavailable: failsWholeBatch,
    })
    this.#accountsById = new LookupBatcher(
      (row) => row.id,
      (ids) => this.#run(() => this.#rows<AccountRow>(ACCOUNTS_BY_ID, [ids])),
    )
    const inserts = (table: Table<never>): InsertBatcher =>
      new InsertBatcher(numbered(insertSql(table)), unnestInsertSql(table), (sql, params) =>
        this.#run(async () => {
          await this.#pool.query(sql, params)
        }),
      )
    this.#requestTokens = inserts(REQUEST_TOKENS)
    this.#guestSessions = inserts(GUEST_SESSIONS)
    this.#sessions = inserts(SESSIONS)
  }

  /** Connects, and applies pending migrations under an advisory lock (safe when instances start together). */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_PG_STATEMENT_TIMEOUT_MS
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? DEFAULT_PG_POOL,
      connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      // The server cancels a statement running longer; the client gives up a little later still, for
      // a server that stopped answering altogether.
      statement_timeout: statementTimeoutMs,
      query_timeout: statementTimeoutMs + CLIENT_GRACE_MS,
      idleTimeoutMillis: 30_000,
      application_name: 'cinepass',
      types,
    })
    // An idle connection that breaks (server restart) is dropped by the pool and reported here; the
    // next query opens a new one, so it is no reason to crash.
    pool.on('error', () => {})
    const store = new PostgresStore(pool)
    try {
      await store.migrate()
    } catch (error) {
      await pool.end().catch(() => {})
      throw isUnavailable(error) ? new StoreUnavailableError(error) : error
    }
    return store
  }

  /**
   * Applies every migration not yet recorded in `schema_migrations`, each in its own transaction,
   * while holding a session advisory lock: instances starting at once wait for the first, then find
   * nothing left to do. Returns how many this call applied.
   */
  async migrate(): Promise<number> {
    const client = await this.#pool.connect()
    let broken: Error | undefined
    const onError = (error: Error): void => {
      broken = error
    }
    client.on('error', onError)
    try {
      // Migrations may take longer than a request's statement; the lock wait too.
      await client.query('SET statement_timeout = 0')
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK])
      try {
        await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)')
        const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version))
        let applied = 0
        for (const migration of POSTGRES_MIGRATIONS) {
          if (done.has(migration.version)) continue
          await client.query('BEGIN')
          try {
            await client.query(migration.sql)
            await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [migration.version, migration.name, Date.now()])
            await client.query('COMMIT')
          } catch (error) {
            await client.query('ROLLBACK').catch(() => {})
            throw error
          }
          applied++
        }
        return applied
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {})
      }
    } catch (error) {
      broken = error as Error
      throw error
    } finally {
      client.off('error', onError)
      // Not back into the pool with statement_timeout = 0 (or broken): a fresh connection replaces it.
      client.release(broken ?? true)
    }
  }

  /** Connections of this process's pool, for metrics: open, idle among them, and callers waiting for one. */
  poolStats(): PoolStats {
    return { total: this.#pool.totalCount, idle: this.#pool.idleCount, waiting: this.#pool.waitingCount }
  }

  isDeletedReference(error: unknown): boolean {
    return isForeignKeyViolation(error)
  }

  // Every public method runs through here, so driver errors meaning "the database cannot be reached
  // now" become StoreUnavailableError (answered 503, code 9).
  async #run<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work()
    } catch (error) {
      if (isUnavailable(error)) throw new StoreUnavailableError(error)
      throw error
    }
  }

  protected read<T>(work: Work<T>): Promise<T> {
    return this.#run(() => performAsync(work, this.#onPool))
  }

  protected write<T>(work: () => Work<T>): Promise<T> {
    return this.read(work())
  }

  protected transaction<T>(work: () => Work<T>): Promise<T> {
    return this.#transaction((client) => performAsync(work(), new PgQueryable(client)))
  }

  protected readSnapshot<T>(work: Work<T>): Promise<T> {
    // REPEATABLE READ: every table read from one snapshot of the database.
    return this.#transaction((client) => performAsync(work, new PgQueryable(client)), 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
  }

  protected readSessionsWithAccounts(hashes: string[]): Promise<SessionWithAccountRow[]> {
    return this.#run(() => this.#rows<SessionWithAccountRow>(SESSIONS_WITH_ACCOUNTS, [hashes]))
  }

  // The batched statements' rows (their SQL is PostgreSQL's own, numbered already).
  async #rows<R>(sql: string, params: unknown[]): Promise<R[]> {
    return (await this.#pool.query<R & pg.QueryResultRow>(sql, params)).rows
  }

  /** Runs `work` in one transaction on one connection: committed fully, or rolled back. */
  #transaction<T>(work: (client: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    return this.#run(async () => {
      const client = await this.#pool.connect()
      let broken: Error | undefined
      // A checked-out client has no listener of the pool's: a connection lost mid-transaction would
      // otherwise be an unhandled 'error' event and end the process. The failing query rejects too.
      const onError = (error: Error): void => {
        broken = error
      }
      client.on('error', onError)
      try {
        await client.query(begin)
        const result = await work(client)
        await client.query('COMMIT')
        return result
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError))
        if (isUnavailable(error)) broken = error as Error
        throw error
      } finally {
        client.off('error', onError)
        // A connection whose state is unknown is destroyed rather than handed to the next request.
        client.release(broken ?? false)
      }
    })
  }

  /** Writes the inserts still queued for a group commit (their callers get their answers), then ends the pool. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const batchers = [
        this.#requestTokens,
        this.#guestSessions,
        this.#sessions,
        this.#accountsById,
        this.#sessionsFromTokens,
        this.#sessionDeletions,
        this.#sessionsFromAccessTokens,
      ]
      await Promise.all([...batchers.map((batcher) => batcher.flush()), this.flushSessionChecks()])
      if (!this.#pool.ended) await this.#pool.end()
    })()
    return this.#closing
  }

  // The hot endpoints' writes and reads, group-committed per event-loop turn.

  override insertRequestToken(token: RequestTokenRecord): Promise<void> {
    return this.#requestTokens.insert(REQUEST_TOKENS.values(token))
  }

  override insertSession(session: SessionRecord): Promise<void> {
    return this.#sessions.insert(SESSIONS.values(session))
  }

  override insertGuestSession(session: GuestSessionRecord): Promise<void> {
    return this.#guestSessions.insert(GUEST_SESSIONS.values(session))
  }

  override async findAccountById(id: number): Promise<AccountRecord | null> {
    return mapped(await this.#accountsById.find(id), toAccount)
  }

  override createSessionFromRequestToken(
    tokenHash: string,
    appId: string,
    now: number,
    session: Omit<SessionRecord, 'accountId' | 'epoch' | 'accessTokenIdHash'>,
  ): Promise<ConsumeResult> {
    return this.#sessionsFromTokens.write({ tokenHash, appId, now, session })
  }

  override createSessionFromAccessToken(
    accessTokenIdHash: string,
    session: Omit<SessionRecord, 'accountId' | 'epoch' | 'accessTokenIdHash'>,
  ): Promise<number | null> {
    return this.#sessionsFromAccessTokens.write({ accessTokenIdHash, session })
  }

  override deleteSession(sessionHash: string, appId: string): Promise<boolean> {
    return this.#sessionDeletions.write({ sessionHash, appId })
  }

  override replaceAll(content: StoreSnapshot): Promise<void> {
    return this.#transaction(async (client) => {
      // A copy may take longer than a request's statement budget.
      await client.query('SET LOCAL statement_timeout = 0')
      await performAsync(snapshot.replaceAll(content, this.maxParams), new PgQueryable(client))
      // Copied accounts keep their ids; new ones continue after the highest, deleted ones included.
      await client.query(`SELECT setval(pg_get_serial_sequence('accounts', 'id'), ${HIGHEST_ACCOUNT_ID_SQL} + 1, false)`)
    })
  }
}
