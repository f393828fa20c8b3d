import pg from 'pg'
import { StoreUnavailableError } from '../../core/errors.js'
import type {
  AccessTokenRecord,
  AccountCredential,
  AccountRecord,
  ApplicationRecord,
  ApproveInput,
  ConsumeResult,
  CredentialRef,
  GuestSessionRecord,
  LiveCounts,
  PoolStats,
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
import { whyNotConsumable } from '../../core/store.js'
import {
  SNAPSHOT_TABLES,
  snapshotFromRows,
  snapshotTables,
  toAccessToken,
  toAccount,
  toApplication,
  toGuestSession,
  toRequestToken,
  sessionsWithAccountsSql,
  toSession,
  toSessionWithAccount,
  toSigningKey,
  toV4RequestToken,
  toWebSession,
  type Row,
} from '../rows.js'
import { toAccountCredential, toPasswordResetToken } from '../account-rows.js'
import { LookupBatcher, TurnQueue } from '../turn-batching.js'
import { POSTGRES_MIGRATIONS } from './migrations.js'

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

// BIGINT (oid 20) arrives as a string by default; our BIGINTs are epoch milliseconds and counts, all
// far inside Number's exact range.
const INT8_OID = 20
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
}

type Queryable = Pick<pg.PoolClient, 'query'>

const SESSIONS_WITH_ACCOUNTS = sessionsWithAccountsSql('= ANY($1::text[])')

/**
 * The shared backend: any number of cinepass instances on one PostgreSQL database, through a
 * `pg.Pool`. Every method is one statement or one transaction; single-use credentials are consumed
 * with a guarded `UPDATE … RETURNING` whose row count decides the one winner (under READ COMMITTED a
 * racing UPDATE waits for the row lock, re-checks the guard and finds the token consumed). Nothing is
 * cached: a deletion is seen by every instance on its next read.
 */
export class PostgresStore implements Store {
  readonly kind = 'postgres'
  readonly #pool: pg.Pool
  #closing: Promise<void> | undefined
  // The hot endpoints' pure inserts, group-committed (see InsertBatcher).
  readonly #requestTokens: InsertBatcher
  readonly #guestSessions: InsertBatcher
  readonly #sessions: InsertBatcher
  readonly #sessionChecks: LookupBatcher<string>
  readonly #accountsById: LookupBatcher<number>
  readonly #sessionsFromTokens: KeyedWriteBatcher<SessionFromToken, ConsumeResult>
  readonly #sessionDeletions: KeyedWriteBatcher<SessionToDelete, boolean>

  private constructor(pool: pg.Pool) {
    this.#pool = pool
    const write = (sql: string, params: unknown[]): Promise<void> =>
      this.#run(async () => {
        await this.#exec(sql, params)
      })
    this.#sessionsFromTokens = new KeyedWriteBatcher({
      key: (request: SessionFromToken) => request.tokenHash,
      // Driver errors as they are: the batcher tells an outage from a deadlock or a timeout itself.
      run: (requests) =>
        this.#rows(SESSIONS_FROM_TOKENS, [
          requests.map((r) => r.tokenHash),
          requests.map((r) => r.appId),
          requests.map((r) => r.now),
          requests.map((r) => r.session.sessionHash),
          requests.map((r) => r.session.createdAt),
          requests.map((r) => r.session.expiresAt),
        ]),
      outcome: sessionFromTokenOutcome,
      alone: (request) => this.#createSessionFromRequestTokenAlone(request),
    })
    this.#sessionDeletions = new KeyedWriteBatcher({
      key: (request: SessionToDelete) => request.sessionHash,
      run: (requests) => this.#rows(DELETE_SESSIONS, [requests.map((r) => r.sessionHash), requests.map((r) => r.appId)]),
      outcome: (row) => row !== undefined,
      alone: (request) => this.#deleteSessionAlone(request),
    })
    const read = (sql: string) => (keys: unknown[]): Promise<Row[]> => this.#run(() => this.#rows(sql, [keys]))
    this.#sessionChecks = new LookupBatcher<string>('session_hash', read(SESSIONS_WITH_ACCOUNTS))
    // session/new reads the account of every session it creates.
    this.#accountsById = new LookupBatcher<number>('id', read('SELECT * FROM accounts WHERE id = ANY($1::integer[])'))
    this.#requestTokens = new InsertBatcher(
      'request_tokens',
      [
        ['token_hash', 'text'],
        ['app_id', 'text'],
        ['created_at', 'bigint'],
        ['expires_at', 'bigint'],
        ['status', 'text'],
        ['account_id', 'integer'],
        ['consumed_at', 'bigint'],
      ],
      write,
    )
    this.#guestSessions = new InsertBatcher(
      'guest_sessions',
      [
        ['session_hash', 'text'],
        ['app_id', 'text'],
        ['created_at', 'bigint'],
        ['expires_at', 'bigint'],
      ],
      write,
    )
    this.#sessions = new InsertBatcher(
      'sessions',
      [
        ['session_hash', 'text'],
        ['app_id', 'text'],
        ['account_id', 'integer'],
        ['created_at', 'bigint'],
        ['expires_at', 'bigint'],
      ],
      write,
    )
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

  /** The highest applied migration version. */
  async schemaVersion(): Promise<number> {
    const row = await this.#one<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations')
    return row?.v ?? 0
  }

  /** Connections of this process's pool, for metrics: open, idle among them, and callers waiting for one. */
  poolStats(): PoolStats {
    return { total: this.#pool.totalCount, idle: this.#pool.idleCount, waiting: this.#pool.waitingCount }
  }

  countLive(now: number): Promise<LiveCounts> {
    // One statement, so the four counts come from one snapshot.
    return this.#run(async () => {
      const row = (await this.#one(
        `SELECT (SELECT count(*) FROM request_tokens WHERE expires_at > $1 AND consumed_at IS NULL) AS request_tokens,
                (SELECT count(*) FROM sessions WHERE expires_at IS NULL OR expires_at > $1) AS sessions,
                (SELECT count(*) FROM guest_sessions WHERE expires_at > $1) AS guest_sessions,
                (SELECT count(*) FROM access_tokens WHERE revoked_at IS NULL) AS access_tokens`,
        [now],
      ))!
      return {
        requestTokens: Number(row.request_tokens),
        sessions: Number(row.sessions),
        guestSessions: Number(row.guest_sessions),
        accessTokens: Number(row.access_tokens),
      }
    })
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

  async #rows<T = Row>(sql: string, params: unknown[] = [], on: Queryable = this.#pool): Promise<T[]> {
    return (await on.query(sql, params)).rows as T[]
  }

  async #one<T = Row>(sql: string, params: unknown[] = [], on: Queryable = this.#pool): Promise<T | undefined> {
    return (await this.#rows<T>(sql, params, on))[0]
  }

  async #exec(sql: string, params: unknown[] = [], on: Queryable = this.#pool): Promise<number> {
    return (await on.query(sql, params)).rowCount ?? 0
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

  ping(): Promise<void> {
    return this.#run(async () => {
      await this.#pool.query('SELECT 1')
    })
  }

  /** Writes the inserts still queued for a group commit (their callers get their answers), then ends the pool. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([this.#requestTokens.flush(), this.#guestSessions.flush(), this.#sessions.flush(), this.#sessionChecks.flush(), this.#accountsById.flush(), this.#sessionsFromTokens.flush(), this.#sessionDeletions.flush()])
      if (!this.#pool.ended) await this.#pool.end()
    })()
    return this.#closing
  }

  getMeta(key: string): Promise<string | null> {
    return this.#run(async () => (await this.#one<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key]))?.value ?? null)
  }

  setMetaIfAbsent(key: string, value: string): Promise<boolean> {
    return this.#run(async () => (await this.#exec('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value])) === 1)
  }

  insertApplication(app: ApplicationRecord): Promise<void> {
    return this.#run(async () => {
      await this.#exec('INSERT INTO applications (id, name, api_key_hash, suspended, created_at, redirect_origins) VALUES ($1, $2, $3, $4, $5, $6)', [
        app.id,
        app.name,
        app.apiKeyHash,
        app.suspended,
        app.createdAt,
        JSON.stringify(app.redirectOrigins),
      ])
    })
  }

  findApplicationById(id: string): Promise<ApplicationRecord | null> {
    return this.#run(async () => toApplication(await this.#one('SELECT * FROM applications WHERE id = $1', [id])))
  }

  findApplicationByKeyHash(apiKeyHash: string): Promise<ApplicationRecord | null> {
    return this.#run(async () => toApplication(await this.#one('SELECT * FROM applications WHERE api_key_hash = $1', [apiKeyHash])))
  }

  listApplications(): Promise<ApplicationRecord[]> {
    return this.#run(async () => (await this.#rows('SELECT * FROM applications ORDER BY created_at, id')).map((r) => toApplication(r)!))
  }

  setApplicationSuspended(id: string, suspended: boolean): Promise<boolean> {
    return this.#run(async () => (await this.#exec('UPDATE applications SET suspended = $1 WHERE id = $2', [suspended, id])) === 1)
  }

  insertAccount(account: NewAccount): Promise<AccountRecord | null> {
    return this.#run(async () =>
      toAccount(
        await this.#one(
          `INSERT INTO accounts (object_id, username, username_key, name, email, language, country, include_adult, password_hash, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (username_key) DO NOTHING RETURNING *`,
          [
            account.objectId,
            account.username,
            account.username.toLowerCase(),
            account.name,
            account.email,
            account.language,
            account.country,
            account.includeAdult,
            account.passwordHash,
            account.createdAt,
          ],
        ),
      ),
    )
  }

  findAccountByUsername(username: string): Promise<AccountRecord | null> {
    return this.#run(async () => toAccount(await this.#one('SELECT * FROM accounts WHERE username_key = $1', [username.toLowerCase()])))
  }

  findAccountById(id: number): Promise<AccountRecord | null> {
    // The batcher's query already maps driver errors (#run).
    return this.#accountsById.find(id).then(toAccount)
  }

  findAccountByObjectId(objectId: string): Promise<AccountRecord | null> {
    return this.#run(async () => toAccount(await this.#one('SELECT * FROM accounts WHERE object_id = $1', [objectId])))
  }

  listAccounts(): Promise<AccountRecord[]> {
    return this.#run(async () => (await this.#rows('SELECT * FROM accounts ORDER BY id')).map((r) => toAccount(r)!))
  }

  async #endAccountCredentials(client: pg.PoolClient, accountId: number, now: number): Promise<void> {
    await this.#exec('DELETE FROM sessions WHERE account_id = $1', [accountId], client)
    await this.#exec('DELETE FROM web_sessions WHERE account_id = $1', [accountId], client)
    await this.#exec('UPDATE access_tokens SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL', [now, accountId], client)
    // A token the user approved but no client has turned into a session yet would outlive the change.
    await this.#exec("UPDATE request_tokens SET status = 'denied' WHERE account_id = $1 AND status = 'approved' AND consumed_at IS NULL", [accountId], client)
    await this.#exec("UPDATE v4_request_tokens SET status = 'denied' WHERE account_id = $1 AND status = 'approved' AND consumed_at IS NULL", [accountId], client)
  }

  setAccountDisabled(id: number, disabled: boolean, now: number): Promise<boolean> {
    return this.#transaction(async (client) => {
      const changed = (await this.#exec('UPDATE accounts SET disabled = $1 WHERE id = $2', [disabled, id], client)) === 1
      if (changed && disabled) await this.#endAccountCredentials(client, id, now)
      return changed
    })
  }

  setAccountPassword(id: number, passwordHash: string, endSessions: boolean, now: number, expectedHash?: string): Promise<boolean> {
    return this.#transaction(async (client) => {
      const changed =
        (await this.#exec('UPDATE accounts SET password_hash = $1 WHERE id = $2 AND ($3::text IS NULL OR password_hash = $3)', [passwordHash, id, expectedHash ?? null], client)) === 1
      if (changed && endSessions) await this.#endAccountCredentials(client, id, now)
      return changed
    })
  }

  insertRequestToken(token: RequestTokenRecord): Promise<void> {
    return this.#requestTokens.insert([token.tokenHash, token.appId, token.createdAt, token.expiresAt, token.status, token.accountId, token.consumedAt])
  }

  findRequestToken(tokenHash: string): Promise<RequestTokenRecord | null> {
    return this.#run(async () => toRequestToken(await this.#one('SELECT * FROM request_tokens WHERE token_hash = $1', [tokenHash])))
  }

  approveRequestToken(input: ApproveInput): Promise<RequestTokenRecord | null> {
    return this.#run(async () =>
      toRequestToken(
        await this.#one(
          `UPDATE request_tokens SET status = 'approved', account_id = $1
           WHERE token_hash = $2 AND consumed_at IS NULL AND expires_at > $3 AND (CAST($4 AS TEXT) IS NULL OR app_id = $4)
             AND (status = 'pending' OR (status = 'approved' AND account_id = $1))
           RETURNING *`,
          [input.accountId, input.tokenHash, input.now, input.appId ?? null],
        ),
      ),
    )
  }

  denyRequestToken(tokenHash: string, now: number): Promise<RequestTokenRecord | null> {
    return this.#run(async () =>
      toRequestToken(
        await this.#one(
          `UPDATE request_tokens SET status = 'denied'
           WHERE token_hash = $1 AND consumed_at IS NULL AND expires_at > $2 AND status = 'pending' RETURNING *`,
          [tokenHash, now],
        ),
      ),
    )
  }

  createSessionFromRequestToken(tokenHash: string, appId: string, now: number, session: Omit<SessionRecord, 'accountId'>): Promise<ConsumeResult> {
    return this.#sessionsFromTokens.write({ tokenHash, appId, now, session })
  }

  /** createSessionFromRequestToken in a transaction of its own: the batch's fallback, one caller at a time. */
  #createSessionFromRequestTokenAlone({ tokenHash, appId, now, session }: SessionFromToken): Promise<ConsumeResult> {
    return this.#transaction(async (client) => {
      const result = await this.#consumeApproved(client, 'request_tokens', 'token_hash', tokenHash, appId, now)
      if (result.ok) await this.#insertSession({ ...session, accountId: result.accountId }, client)
      return result
    })
  }

  /**
   * Marks an approved, live, unconsumed token of `appId` consumed, inside the caller's transaction.
   * The guarded UPDATE's row count decides: a racing caller blocks on the row lock, re-checks the
   * guard after the winner commits and finds the token consumed. On failure, says why.
   */
  async #consumeApproved(
    client: pg.PoolClient,
    table: 'request_tokens' | 'v4_request_tokens',
    key: 'token_hash' | 'id_hash',
    hash: string,
    appId: string,
    now: number,
  ): Promise<ConsumeResult> {
    const consumed = await this.#rows<{ account_id: number }>(
      `UPDATE ${table} SET consumed_at = $1
       WHERE ${key} = $2 AND app_id = $3 AND status = 'approved' AND consumed_at IS NULL AND expires_at > $1
       RETURNING account_id`,
      [now, hash, appId],
      client,
    )
    if (consumed.length === 1) return { ok: true, accountId: consumed[0]!.account_id }
    const toToken = table === 'request_tokens' ? toRequestToken : toV4RequestToken
    const token = toToken(await this.#one(`SELECT * FROM ${table} WHERE ${key} = $1`, [hash], client))
    return { ok: false, reason: whyNotConsumable(token, appId, now) }
  }

  async #insertSession(session: SessionRecord, on: Queryable = this.#pool): Promise<void> {
    await this.#exec('INSERT INTO sessions (session_hash, app_id, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [
      session.sessionHash,
      session.appId,
      session.accountId,
      session.createdAt,
      session.expiresAt,
    ], on)
  }

  insertSession(session: SessionRecord): Promise<void> {
    return this.#sessions.insert([session.sessionHash, session.appId, session.accountId, session.createdAt, session.expiresAt])
  }

  findSession(sessionHash: string): Promise<SessionRecord | null> {
    return this.#run(async () => toSession(await this.#one('SELECT * FROM sessions WHERE session_hash = $1', [sessionHash])))
  }

  findSessionWithAccount(sessionHash: string): Promise<{ session: SessionRecord; account: AccountRecord } | null> {
    // The batcher's query already maps driver errors (#run).
    return this.#sessionChecks.find(sessionHash).then(toSessionWithAccount)
  }

  deleteSession(sessionHash: string, appId: string): Promise<boolean> {
    return this.#sessionDeletions.write({ sessionHash, appId })
  }

  /** deleteSession in a statement of its own: the batch's fallback, one caller at a time. */
  #deleteSessionAlone({ sessionHash, appId }: SessionToDelete): Promise<boolean> {
    return this.#run(async () => (await this.#exec('DELETE FROM sessions WHERE session_hash = $1 AND app_id = $2', [sessionHash, appId])) === 1)
  }

  insertGuestSession(session: GuestSessionRecord): Promise<void> {
    return this.#guestSessions.insert([session.sessionHash, session.appId, session.createdAt, session.expiresAt])
  }

  findGuestSession(sessionHash: string): Promise<GuestSessionRecord | null> {
    return this.#run(async () => toGuestSession(await this.#one('SELECT * FROM guest_sessions WHERE session_hash = $1', [sessionHash])))
  }

  insertV4RequestToken(token: V4RequestTokenRecord): Promise<void> {
    return this.#run(async () => {
      await this.#exec(
        'INSERT INTO v4_request_tokens (id_hash, app_id, created_at, expires_at, redirect_to, status, account_id, consumed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
        [token.idHash, token.appId, token.createdAt, token.expiresAt, token.redirectTo, token.status, token.accountId, token.consumedAt],
      )
    })
  }

  findV4RequestToken(idHash: string): Promise<V4RequestTokenRecord | null> {
    return this.#run(async () => toV4RequestToken(await this.#one('SELECT * FROM v4_request_tokens WHERE id_hash = $1', [idHash])))
  }

  approveV4RequestToken(idHash: string, accountId: number, now: number): Promise<V4RequestTokenRecord | null> {
    return this.#run(async () =>
      toV4RequestToken(
        await this.#one(
          `UPDATE v4_request_tokens SET status = 'approved', account_id = $1
           WHERE id_hash = $2 AND consumed_at IS NULL AND expires_at > $3
             AND (status = 'pending' OR (status = 'approved' AND account_id = $1))
           RETURNING *`,
          [accountId, idHash, now],
        ),
      ),
    )
  }

  denyV4RequestToken(idHash: string, now: number): Promise<V4RequestTokenRecord | null> {
    return this.#run(async () =>
      toV4RequestToken(
        await this.#one(
          `UPDATE v4_request_tokens SET status = 'denied'
           WHERE id_hash = $1 AND consumed_at IS NULL AND expires_at > $2 AND status = 'pending' RETURNING *`,
          [idHash, now],
        ),
      ),
    )
  }

  createAccessTokenFromRequestToken(idHash: string, appId: string, now: number, accessToken: Omit<AccessTokenRecord, 'accountId'>): Promise<ConsumeResult> {
    return this.#transaction(async (client) => {
      const result = await this.#consumeApproved(client, 'v4_request_tokens', 'id_hash', idHash, appId, now)
      if (result.ok) {
        await this.#exec(
          'INSERT INTO access_tokens (id_hash, app_id, account_id, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5)',
          [accessToken.idHash, accessToken.appId, result.accountId, accessToken.createdAt, accessToken.revokedAt],
          client,
        )
      }
      return result
    })
  }

  findAccessToken(idHash: string): Promise<AccessTokenRecord | null> {
    return this.#run(async () => toAccessToken(await this.#one('SELECT * FROM access_tokens WHERE id_hash = $1', [idHash])))
  }

  revokeAccessToken(idHash: string, appId: string, now: number): Promise<boolean> {
    return this.#run(
      async () => (await this.#exec('UPDATE access_tokens SET revoked_at = $1 WHERE id_hash = $2 AND app_id = $3 AND revoked_at IS NULL', [now, idHash, appId])) === 1,
    )
  }

  listSigningKeys(): Promise<SigningKeyRecord[]> {
    return this.#run(async () => (await this.#rows('SELECT * FROM signing_keys ORDER BY created_at, kid')).map(toSigningKey))
  }

  insertSigningKey(key: SigningKeyRecord): Promise<void> {
    return this.#run(async () => {
      await this.#exec('INSERT INTO signing_keys (kid, secret, created_at, retired_at) VALUES ($1, $2, $3, $4)', [key.kid, key.secret, key.createdAt, key.retiredAt])
    })
  }

  retireSigningKey(kid: string, now: number): Promise<boolean> {
    return this.#run(async () => (await this.#exec('UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL', [now, kid])) === 1)
  }

  insertWebSession(session: WebSessionRecord): Promise<void> {
    return this.#run(async () => {
      await this.#exec('INSERT INTO web_sessions (session_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)', [
        session.sessionHash,
        session.accountId,
        session.createdAt,
        session.expiresAt,
      ])
    })
  }

  findWebSession(sessionHash: string): Promise<WebSessionRecord | null> {
    return this.#run(async () => toWebSession(await this.#one('SELECT * FROM web_sessions WHERE session_hash = $1', [sessionHash])))
  }

  deleteWebSession(sessionHash: string): Promise<void> {
    return this.#run(async () => {
      await this.#exec('DELETE FROM web_sessions WHERE session_hash = $1', [sessionHash])
    })
  }

  purgeExpired(now: number, limit: number): Promise<number> {
    return this.#transaction(async (client) => {
      let remaining = limit
      for (const [table, key, extra] of PURGEABLE) {
        if (remaining <= 0) break
        remaining -= await this.#exec(
          `DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE expires_at <= $1${extra} LIMIT $2)`,
          [now, remaining],
          client,
        )
      }
      return limit - remaining
    })
  }

  isEmpty(): Promise<boolean> {
    return this.#run(async () => {
      const union = SNAPSHOT_TABLES.map(({ table }) => `(SELECT 1 FROM ${table} LIMIT 1)`).join(' UNION ALL ')
      return (await this.#rows(union)).length === 0
    })
  }

  exportAll(): Promise<StoreSnapshot> {
    // REPEATABLE READ: every table read from one snapshot of the database.
    return this.#transaction(async (client) => {
      const rows = new Map<string, Row[]>()
      for (const { table, key } of SNAPSHOT_TABLES) rows.set(table, await this.#rows(`SELECT * FROM ${table} ORDER BY ${key}`, [], client))
      return snapshotFromRows((table) => rows.get(table)!)
    }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
  }

  replaceAll(snapshot: StoreSnapshot): Promise<void> {
    return this.#transaction(async (client) => {
      // A copy may take longer than a request's statement budget.
      await client.query('SET LOCAL statement_timeout = 0')
      const tables = snapshotTables(snapshot, (value) => value)
      for (const { table } of [...tables].reverse()) await this.#exec(`DELETE FROM ${table}`, [], client)
      for (const { table, columns, rows } of tables) {
        // Many rows per statement, within PostgreSQL's 65535 parameters.
        const perStatement = Math.floor(60_000 / columns.length)
        for (let start = 0; start < rows.length; start += perStatement) {
          const chunk = rows.slice(start, start + perStatement)
          const values = chunk.map((_, r) => `(${columns.map((_c, c) => `$${r * columns.length + c + 1}`).join(', ')})`).join(', ')
          await this.#exec(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${values}`, chunk.flat(), client)
        }
      }
      // Copied accounts keep their ids; new ones continue after the highest.
      await client.query("SELECT setval(pg_get_serial_sequence('accounts', 'id'), COALESCE((SELECT MAX(id) FROM accounts), 0) + 1, false)")
    })
  }

  // account page:

  listAccountCredentials(accountId: number, now: number, limit: number): Promise<AccountCredential[]> {
    return this.#run(async () =>
      (
        await this.#rows(
          `SELECT 'session' AS kind, s.session_hash AS hash, a.name AS app_name, s.created_at, s.expires_at, NULL::BIGINT AS last_used_at
             FROM sessions s JOIN applications a ON a.id = s.app_id
            WHERE s.account_id = $1 AND (s.expires_at IS NULL OR s.expires_at > $2)
           UNION ALL
           SELECT 'access_token', t.id_hash, a.name, t.created_at, NULL::BIGINT, NULL::BIGINT
             FROM access_tokens t JOIN applications a ON a.id = t.app_id
            WHERE t.account_id = $1 AND t.revoked_at IS NULL
           UNION ALL
           SELECT 'web_session', w.session_hash, NULL::TEXT, w.created_at, w.expires_at, w.last_used_at
             FROM web_sessions w WHERE w.account_id = $1 AND w.expires_at > $2
           ORDER BY created_at DESC, hash LIMIT $3`,
          [accountId, now, limit],
        )
      ).map(toAccountCredential),
    )
  }

  endAccountCredential(accountId: number, credential: CredentialRef, now: number): Promise<boolean> {
    return this.#run(async () => {
      switch (credential.kind) {
        case 'session':
          return (await this.#exec('DELETE FROM sessions WHERE session_hash = $1 AND account_id = $2', [credential.hash, accountId])) === 1
        case 'web_session':
          return (await this.#exec('DELETE FROM web_sessions WHERE session_hash = $1 AND account_id = $2', [credential.hash, accountId])) === 1
        case 'access_token':
          return (
            (await this.#exec('UPDATE access_tokens SET revoked_at = $1 WHERE id_hash = $2 AND account_id = $3 AND revoked_at IS NULL', [now, credential.hash, accountId])) === 1
          )
      }
    })
  }

  async #endAccountCredentialsExcept(client: pg.PoolClient, accountId: number, now: number, keepWebSessionHash: string | null): Promise<void> {
    await this.#exec('DELETE FROM sessions WHERE account_id = $1', [accountId], client)
    await this.#exec('DELETE FROM web_sessions WHERE account_id = $1 AND session_hash IS DISTINCT FROM $2::TEXT', [accountId, keepWebSessionHash], client)
    await this.#exec('UPDATE access_tokens SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL', [now, accountId], client)
    await this.#exec("UPDATE request_tokens SET status = 'denied' WHERE account_id = $1 AND status = 'approved' AND consumed_at IS NULL", [accountId], client)
    await this.#exec("UPDATE v4_request_tokens SET status = 'denied' WHERE account_id = $1 AND status = 'approved' AND consumed_at IS NULL", [accountId], client)
  }

  endAccountCredentials(accountId: number, now: number, keepWebSessionHash: string | null): Promise<void> {
    return this.#transaction((client) => this.#endAccountCredentialsExcept(client, accountId, now, keepWebSessionHash))
  }

  changeAccountPassword(input: PasswordChange): Promise<boolean> {
    return this.#transaction(async (client) => {
      const changed =
        (await this.#exec('UPDATE accounts SET password_hash = $1 WHERE id = $2 AND password_hash = $3', [input.passwordHash, input.accountId, input.expectedHash], client)) === 1
      if (changed) await this.#endAccountCredentialsExcept(client, input.accountId, input.now, input.keepWebSessionHash)
      return changed
    })
  }

  touchWebSession(sessionHash: string, now: number, intervalMs: number): Promise<void> {
    return this.#run(async () => {
      await this.#exec('UPDATE web_sessions SET last_used_at = $1 WHERE session_hash = $2 AND (last_used_at IS NULL OR last_used_at <= $3)', [now, sessionHash, now - intervalMs])
    })
  }

  setAccountName(accountId: number, name: string): Promise<boolean> {
    return this.#run(async () => (await this.#exec('UPDATE accounts SET name = $1 WHERE id = $2', [name, accountId])) === 1)
  }

  insertPasswordResetToken(token: PasswordResetTokenRecord): Promise<void> {
    return this.#transaction(async (client) => {
      await this.#exec('DELETE FROM password_reset_tokens WHERE account_id = $1 OR expires_at <= $2', [token.accountId, token.createdAt], client)
      await this.#exec(
        'INSERT INTO password_reset_tokens (token_hash, account_id, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5)',
        [token.tokenHash, token.accountId, token.createdAt, token.expiresAt, token.usedAt],
        client,
      )
    })
  }

  findPasswordResetToken(tokenHash: string): Promise<PasswordResetTokenRecord | null> {
    return this.#run(async () => toPasswordResetToken(await this.#one('SELECT * FROM password_reset_tokens WHERE token_hash = $1', [tokenHash])))
  }

  resetPasswordWithToken(tokenHash: string, passwordHash: string, now: number): Promise<number | null> {
    return this.#transaction(async (client) => {
      const used = await this.#one(
        'UPDATE password_reset_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING account_id',
        [now, tokenHash],
        client,
      )
      if (!used) return null
      const accountId = Number(used.account_id)
      await this.#exec('UPDATE accounts SET password_hash = $1 WHERE id = $2', [passwordHash, accountId], client)
      await this.#endAccountCredentialsExcept(client, accountId, now, null)
      return accountId
    })
  }
}

interface QueuedRow {
  values: unknown[]
  resolve: () => void
  reject: (error: unknown) => void
}

// Group commit: under load many requests insert into the same table within one event-loop turn; one
// multi-row statement per turn costs one round trip and one commit (one WAL flush) instead of one of
// each per request, and holds one pooled connection instead of many.
/**
 * Group commit of single-row INSERTs into one table. Contract:
 * - `insert(values)` queues one row (values in `columns` order). Rows queued during one event-loop
 *   turn are written by ONE autocommitted statement (`INSERT … SELECT * FROM unnest($1::type[], …)`;
 *   a lone row uses a plain `VALUES` insert), at most `MAX_BATCH_ROWS` rows each.
 * - Acknowledge after commit: a caller's promise resolves only once that statement has committed, so
 *   a resolved insert is as durable as a single-row one.
 * - Errors go through the store's mapping (`write`). When the batch fails with StoreUnavailableError,
 *   every caller of the batch rejects with that same error. Any other failure (a duplicate key, a
 *   foreign-key violation in one row) falls back to inserting the batch's rows one by one, so only the
 *   offending caller rejects, with its own error, and the others commit.
 */
class InsertBatcher {
  readonly #single: string
  readonly #multi: string
  readonly #write: (sql: string, params: unknown[]) => Promise<void>
  readonly #queue = new TurnQueue<QueuedRow>((batch) => this.#commit(batch))

  constructor(table: string, columns: readonly (readonly [name: string, type: string])[], write: (sql: string, params: unknown[]) => Promise<void>) {
    const names = columns.map(([name]) => name).join(', ')
    this.#single = `INSERT INTO ${table} (${names}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`
    this.#multi = `INSERT INTO ${table} (${names}) SELECT * FROM unnest(${columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')})`
    this.#write = write
  }

  insert(values: unknown[]): Promise<void> {
    return new Promise((resolve, reject) => this.#queue.push({ values, resolve, reject }))
  }

  flush(): Promise<void> {
    return this.#queue.flush()
  }

  // Never rejects: every outcome is delivered to the callers' own promises.
  async #commit(batch: QueuedRow[]): Promise<void> {
    if (batch.length === 1) return this.#commitOne(batch[0]!)
    try {
      // One array per column: unnest turns them back into rows.
      await this.#write(
        this.#multi,
        batch[0]!.values.map((_, column) => batch.map((row) => row.values[column])),
      )
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        for (const row of batch) row.reject(error)
        return
      }
      for (const row of batch) await this.#commitOne(row)
      return
    }
    for (const row of batch) row.resolve()
  }

  async #commitOne(row: QueuedRow): Promise<void> {
    try {
      await this.#write(this.#single, row.values)
      row.resolve()
    } catch (error) {
      row.reject(error)
    }
  }
}

interface SessionFromToken {
  tokenHash: string
  appId: string
  now: number
  session: Omit<SessionRecord, 'accountId'>
}

// Every caller's token is consumed by the guarded UPDATE (the same guard as #consumeApproved's, each
// row with its caller's own `now`), and a session is inserted for each token consumed: data-modifying
// CTEs of one statement, so both commit together or not at all. The last SELECT reads the tokens as
// they were when the statement began, which is all a caller whose token was not consumed needs to be
// told why (whyNotConsumable: one a concurrent statement consumed looks approved, and is 'invalid').
const SESSIONS_FROM_TOKENS = `WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[])
    AS i (token_hash, app_id, now, session_hash, created_at, expires_at)
), consumed AS (
  UPDATE request_tokens t SET consumed_at = i.now
  FROM input i
  WHERE t.token_hash = i.token_hash AND t.app_id = i.app_id AND t.status = 'approved'
    AND t.consumed_at IS NULL AND t.expires_at > i.now
  RETURNING t.token_hash, t.account_id
), inserted AS (
  INSERT INTO sessions (session_hash, app_id, account_id, created_at, expires_at)
  SELECT i.session_hash, i.app_id, c.account_id, i.created_at, i.expires_at
  FROM consumed c JOIN input i ON i.token_hash = c.token_hash
)
SELECT t.*, i.token_hash AS batch_key, c.account_id AS consumed_for
FROM input i
LEFT JOIN consumed c ON c.token_hash = i.token_hash
LEFT JOIN request_tokens t ON t.token_hash = i.token_hash`

function sessionFromTokenOutcome(row: Row | undefined, caller: SessionFromToken): ConsumeResult | undefined {
  if (row?.consumed_for !== null && row?.consumed_for !== undefined) return { ok: true, accountId: Number(row.consumed_for) }
  // No request_tokens columns (t.*) when the token does not exist.
  const token = row?.token_hash ? toRequestToken(row) : null
  // Consumable as the statement began, yet not consumed: a concurrent transaction changed it while
  // the statement waited for its lock (consumed it, or denied it when its account was disabled).
  // Only a new statement sees which: the caller runs alone.
  if (token && token.status === 'approved' && token.consumedAt === null && token.appId === caller.appId && token.expiresAt > caller.now) return undefined
  return { ok: false, reason: whyNotConsumable(token, caller.appId, caller.now) }
}

interface SessionToDelete {
  sessionHash: string
  appId: string
}

const DELETE_SESSIONS = `DELETE FROM sessions s
  USING unnest($1::text[], $2::text[]) AS d (session_hash, app_id)
  WHERE s.session_hash = d.session_hash AND s.app_id = d.app_id
  RETURNING s.session_hash AS batch_key`

// A deadlock (two instances' batches locking shared rows in opposite orders), a serialization failure,
// or the statement timeout (which, at 1 s, fires before PostgreSQL's deadlock check): the batch is
// aborted whole, and its callers alone cannot deadlock (one row lock each). If the database itself is
// the trouble, the first caller alone finds out and the rest fail with it.
const RETRY_ALONE_SQLSTATE = new Set(['40P01', '40001', '57014'])

// session/new and DELETE session were a statement (session/new a transaction: four round trips) and a
// commit per request, and ran at a fraction of the group-committed inserts' rate.
/**
 * Group commit of writes that act on one row each, named by a key (a token to consume, a session to
 * delete), where two callers naming the same row must be decided one after the other. Contract:
 * - `write(request)` settles as the store method it serves would alone (`alone`).
 * - Callers of one event-loop turn naming distinct keys are served by ONE autocommitted statement,
 *   `run(requests)`, which returns at most one row per request with its key in `batch_key`;
 *   `outcome(row, request)` turns it into the caller's answer. No caller is answered before the
 *   statement has committed.
 * - A caller naming a key an earlier caller of the same batch names too is served after the batch,
 *   alone: between them the row decides, as between two instances.
 * - A caller whose row cannot tell its answer (`outcome` gives undefined) is served alone too.
 * - When the statement fails because the database is unavailable, every caller of the batch rejects
 *   with StoreUnavailableError; on any other failure (a deadlock, a timeout, a constraint) each caller
 *   runs alone, so only an offending caller fails, with its own error; once one of them finds the
 *   database unavailable, the callers still waiting reject with that error.
 */
class KeyedWriteBatcher<Request, Result> {
  readonly #queue = new TurnQueue<{ request: Request; resolve: (result: Result) => void; reject: (error: unknown) => void }>((batch) =>
    this.#commit(batch),
  )

  constructor(
    private readonly options: {
      key: (request: Request) => string
      run: (requests: Request[]) => Promise<Row[]>
      /** The caller's answer from its row; undefined when only a statement of its own can tell. */
      outcome: (row: Row | undefined, request: Request) => Result | undefined
      alone: (request: Request) => Promise<Result>
    },
  ) {}

  write(request: Request): Promise<Result> {
    return new Promise((resolve, reject) => this.#queue.push({ request, resolve, reject }))
  }

  flush(): Promise<void> {
    return this.#queue.flush()
  }

  // Never rejects: every outcome is delivered to the callers' own promises.
  async #commit(batch: { request: Request; resolve: (result: Result) => void; reject: (error: unknown) => void }[]): Promise<void> {
    const { key, run, outcome, alone } = this.options
    const first = new Map<string, (typeof batch)[number]>()
    const later: typeof batch = []
    for (const caller of batch) {
      const name = key(caller.request)
      if (first.has(name)) later.push(caller)
      else first.set(name, caller)
    }
    // Sent in key order, so that two instances' batches most likely lock the rows they share in the
    // same order (the plan decides; a deadlock is replayed alone anyway); run alone, in the order they came.
    const callers = [...first.values()]
    const inKeyOrder = [...first.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, caller]) => caller)
    let rows: Row[] | undefined
    try {
      rows = await run(inKeyOrder.map((caller) => caller.request))
    } catch (error) {
      const code = (error as { code?: unknown }).code
      if (isUnavailable(error) && !(typeof code === 'string' && RETRY_ALONE_SQLSTATE.has(code))) {
        const failure = new StoreUnavailableError(error)
        for (const caller of batch) caller.reject(failure)
        return
      }
      later.unshift(...callers)
    }
    if (rows) {
      const byKey = new Map(rows.map((row) => [row.batch_key as string, row]))
      for (const caller of callers) {
        const result = outcome(byKey.get(key(caller.request)), caller.request)
        if (result === undefined) later.push(caller)
        else caller.resolve(result)
      }
    }
    for (const [i, caller] of later.entries()) {
      try {
        caller.resolve(await alone(caller.request))
      } catch (error) {
        caller.reject(error)
        // The database went away: the callers still waiting would each wait out a connection timeout.
        if (error instanceof StoreUnavailableError) {
          for (const waiting of later.slice(i + 1)) waiting.reject(error)
          return
        }
      }
    }
  }
}

// Tables whose rows die at `expires_at`; sessions only when a lifetime was configured.
const PURGEABLE: readonly [table: string, key: string, extra: string][] = [
  ['request_tokens', 'token_hash', ''],
  ['v4_request_tokens', 'id_hash', ''],
  ['guest_sessions', 'session_hash', ''],
  ['web_sessions', 'session_hash', ''],
  ['sessions', 'session_hash', ' AND expires_at IS NOT NULL'],
]

// SQLSTATE classes and codes meaning "the database cannot serve this now": connection exceptions
// (08), insufficient resources (53), operator intervention (57: shutdown, statement timeout, cannot
// connect now), and serialization failures or deadlocks (40001, 40P01) a retry would clear.
const UNAVAILABLE_SQLSTATE = /^(08|53|57|40001|40P01)/
const UNAVAILABLE_NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'])
const UNAVAILABLE_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Cannot use a pool after calling end|Client was closed|not queryable/i

/** True when `error` means the database cannot be reached or cannot take the work now. */
export function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string' && (UNAVAILABLE_NETWORK.has(code) || (code.length === 5 && UNAVAILABLE_SQLSTATE.test(code)))) return true
  if (error instanceof AggregateError) return error.errors.some(isUnavailable)
  return error instanceof Error && UNAVAILABLE_MESSAGE.test(error.message)
}
