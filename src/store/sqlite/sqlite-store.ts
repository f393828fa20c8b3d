import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
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
import { LookupBatcher } from '../turn-batching.js'
import { startCheckpointer, type Checkpointer } from './checkpointer.js'
import { SQLITE_MIGRATIONS } from './migrations.js'

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
}

// SQLite's page cache, MiB: pages are kept only as they are read, up to this much.
const PAGE_CACHE_MB = 16

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown }

interface QueuedWrite {
  work: () => unknown
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

// One JSON array of hashes as the list: one prepared statement whatever the batch's size.
const SESSIONS_WITH_ACCOUNTS = sessionsWithAccountsSql('IN (SELECT value FROM json_each(?))')

// SQLite error codes meaning the database cannot take the operation now (disk full, I/O, locked too
// long): the request fails closed with 503 rather than as a bug.
const UNAVAILABLE_CODES = /^SQLITE_(FULL|IOERR|BUSY|LOCKED|CANTOPEN|READONLY|NOMEM|PROTOCOL)/

/** The embedded backend: one SQLite file in WAL mode, through better-sqlite3's synchronous API. */
export class SqliteStore implements Store {
  readonly kind = 'sqlite'
  readonly path: string
  readonly #db: Database.Database
  readonly #statements = new Map<string, Database.Statement>()
  #batch: QueuedWrite[] = []
  #checkpointer: Checkpointer | undefined
  /** While the checkpointer finishes a pass, writes are queued and no batch runs (see startCheckpointer). */
  #writesPaused = false
  // The session check is the most frequent request, and a statement of its own per check (each taking
  // and dropping the file's read locks) cost more than the lookup: the checks of one turn share one.
  readonly #sessionChecks = new LookupBatcher<string>('session_hash', (sessionHashes) =>
    this.#run(() => this.#all(SESSIONS_WITH_ACCOUNTS, JSON.stringify(sessionHashes))),
  )
  /** Test hook: the next group commit fails as a failing disk would make it (then the flag clears). */
  failNextCommitForTests = false

  private constructor(path: string, db: Database.Database) {
    this.path = path
    this.#db = db
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
    const store = new SqliteStore(path, db)
    store.migrate()
    if (options.checkpointInBackground && path !== ':memory:') {
      db.pragma('wal_autocheckpoint = 0')
      store.#checkpointer = startCheckpointer(path, {
        pause: () => {
          store.#writesPaused = true
        },
        resume: () => {
          store.#writesPaused = false
          if (store.#batch.length > 0) setImmediate(() => store.#flush())
        },
      })
    }
    return store
  }

  /** Applies every migration not yet recorded; several processes may race here safely. */
  migrate(): number {
    const db = this.#db
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)')
    const apply = db.transaction(() => {
      const done = new Set(
        (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
      )
      let applied = 0
      for (const migration of SQLITE_MIGRATIONS) {
        if (done.has(migration.version)) continue
        db.exec(migration.sql)
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
          migration.version,
          migration.name,
          Date.now(),
        )
        applied++
      }
      return applied
    })
    return apply.immediate()
  }

  /** The highest applied migration version. */
  schemaVersion(): number {
    const row = this.#db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }
    return row.v ?? 0
  }

  /** Copies the database to `target` while it stays in use (SQLite's online backup). */
  async backup(target: string): Promise<void> {
    await this.#run(() => this.#db.backup(target))
  }

  #statement(sql: string): Database.Statement {
    let statement = this.#statements.get(sql)
    if (!statement) {
      statement = this.#db.prepare(sql)
      this.#statements.set(sql, statement)
    }
    return statement
  }

  #get(sql: string, ...params: unknown[]): Row | undefined {
    return this.#statement(sql).get(...params) as Row | undefined
  }

  #all(sql: string, ...params: unknown[]): Row[] {
    return this.#statement(sql).all(...params) as Row[]
  }

  #exec(sql: string, ...params: unknown[]): number {
    return this.#statement(sql).run(...params).changes
  }

  // Every public read runs through here, so driver errors that mean "the database is unusable now"
  // become StoreUnavailableError, and the result is a promise like every other backend's.
  async #run<T>(work: () => T): Promise<T> {
    try {
      return work()
    } catch (error) {
      if (isUnavailable(error)) throw new StoreUnavailableError(error)
      throw error
    }
  }

  /**
   * Every write runs through here (group commit): the writes queued during one event-loop turn run
   * in one transaction. Each caller's promise settles only after that transaction has committed; a
   * write that throws fails alone and the others go on; if the commit (or the database) fails, every
   * write of the batch rejects with StoreUnavailableError and none of them is in the database. One
   * commit per turn instead of one per write is what lets writes keep pace with requests
   * (docs/performance.md). While the WAL checkpointer holds writes back (one short pass, at most
   * 250 ms: startCheckpointer), batches wait and the writes of several turns share one. `work` may run
   * twice (see `#flush`), so it must only touch the database.
   */
  #write<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#batch.push({ work, resolve: resolve as (value: unknown) => void, reject })
      // setImmediate runs after the I/O callbacks of this turn: every request parsed in it joins.
      if (this.#batch.length === 1) setImmediate(() => this.#flush())
    })
  }

  /**
   * Runs the queued writes in one transaction and settles their promises after it commits. Writes
   * almost never throw, so the batch first runs bare; only when one throws is the transaction rolled
   * back and the batch replayed with a SAVEPOINT around each write, which undoes the failing one
   * alone. (Two savepoint statements per write would cost more than the write itself.)
   */
  #flush(): void {
    const batch = this.#batch
    if (batch.length === 0 || this.#writesPaused) return
    this.#batch = []
    let outcomes: Outcome[]
    try {
      outcomes = this.#runBatch(batch, false) ?? this.#runBatch(batch, true)!
    } catch (error) {
      const failure = isUnavailable(error) || !this.#db.open ? new StoreUnavailableError(error) : error
      for (const op of batch) op.reject(failure)
      return
    }
    batch.forEach((op, i) => {
      const outcome = outcomes[i]!
      if (outcome.ok) op.resolve(outcome.value)
      else op.reject(outcome.error)
    })
  }

  /**
   * One transaction over `batch`, committed. With `isolate`, each write runs in its own savepoint and
   * one that throws is recorded as failed; without, a write that throws rolls everything back and the
   * result is undefined (replay isolated) — unless it was alone, when its failure is the outcome.
   * A database failure (full, I/O, lost) throws: the whole batch fails.
   */
  #runBatch(batch: QueuedWrite[], isolate: boolean): Outcome[] | undefined {
    const db = this.#db
    const outcomes: Outcome[] = []
    this.#statement('BEGIN IMMEDIATE').run()
    try {
      for (const op of batch) {
        if (isolate) this.#statement('SAVEPOINT op').run()
        try {
          outcomes.push({ ok: true, value: op.work() })
          if (isolate) this.#statement('RELEASE op').run()
        } catch (error) {
          if (isUnavailable(error) || !db.inTransaction) throw error
          if (!isolate) {
            this.#statement('ROLLBACK').run()
            return batch.length === 1 ? [{ ok: false, error }] : undefined
          }
          this.#statement('ROLLBACK TO op').run()
          this.#statement('RELEASE op').run()
          outcomes.push({ ok: false, error })
        }
      }
      this.#commit()
      return outcomes
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK')
      throw error
    }
  }

  #commit(): void {
    if (this.failNextCommitForTests) {
      this.failNextCommitForTests = false
      throw Object.assign(new Error('injected commit failure'), { code: 'SQLITE_IOERR' })
    }
    this.#statement('COMMIT').run()
  }

  ping(): Promise<void> {
    return this.#run(() => {
      this.#get('SELECT 1')
    })
  }

  async close(): Promise<void> {
    if (!this.#db.open) return
    // Stopping the checkpointer ends any pause of the writes; then the writes already queued are
    // committed (or failed) before the database goes.
    await this.#checkpointer?.stop()
    this.#writesPaused = false
    this.#flush()
    await this.#sessionChecks.flush()
    try {
      this.#db.pragma('wal_checkpoint(TRUNCATE)')
    } catch {
      // A checkpoint is an optimisation; the WAL is replayed on the next open anyway.
    }
    this.#db.close()
  }

  getMeta(key: string): Promise<string | null> {
    return this.#run(() => (this.#get('SELECT value FROM meta WHERE key = ?', key)?.value as string) ?? null)
  }

  setMetaIfAbsent(key: string, value: string): Promise<boolean> {
    return this.#write(() => this.#exec('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING', key, value) === 1)
  }

  insertApplication(app: ApplicationRecord): Promise<void> {
    return this.#write(() => {
      this.#exec(
        'INSERT INTO applications (id, name, api_key_hash, suspended, created_at, redirect_origins) VALUES (?, ?, ?, ?, ?, ?)',
        app.id,
        app.name,
        app.apiKeyHash,
        app.suspended ? 1 : 0,
        app.createdAt,
        JSON.stringify(app.redirectOrigins),
      )
    })
  }

  findApplicationById(id: string): Promise<ApplicationRecord | null> {
    return this.#run(() => toApplication(this.#get('SELECT * FROM applications WHERE id = ?', id)))
  }

  findApplicationByKeyHash(apiKeyHash: string): Promise<ApplicationRecord | null> {
    return this.#run(() => toApplication(this.#get('SELECT * FROM applications WHERE api_key_hash = ?', apiKeyHash)))
  }

  listApplications(): Promise<ApplicationRecord[]> {
    return this.#run(() => this.#all('SELECT * FROM applications ORDER BY created_at, id').map((r) => toApplication(r)!))
  }

  setApplicationSuspended(id: string, suspended: boolean): Promise<boolean> {
    return this.#write(() => this.#exec('UPDATE applications SET suspended = ? WHERE id = ?', suspended ? 1 : 0, id) === 1)
  }

  insertAccount(account: NewAccount): Promise<AccountRecord | null> {
    return this.#write(() => {
      const inserted = this.#get(
        `INSERT INTO accounts (object_id, username, username_key, name, email, language, country, include_adult, password_hash, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (username_key) DO NOTHING RETURNING *`,
        account.objectId,
        account.username,
        account.username.toLowerCase(),
        account.name,
        account.email,
        account.language,
        account.country,
        account.includeAdult ? 1 : 0,
        account.passwordHash,
        account.createdAt,
      )
      return toAccount(inserted)
    })
  }

  findAccountByUsername(username: string): Promise<AccountRecord | null> {
    return this.#run(() => toAccount(this.#get('SELECT * FROM accounts WHERE username_key = ?', username.toLowerCase())))
  }

  findAccountById(id: number): Promise<AccountRecord | null> {
    return this.#run(() => toAccount(this.#get('SELECT * FROM accounts WHERE id = ?', id)))
  }

  findAccountByObjectId(objectId: string): Promise<AccountRecord | null> {
    return this.#run(() => toAccount(this.#get('SELECT * FROM accounts WHERE object_id = ?', objectId)))
  }

  listAccounts(): Promise<AccountRecord[]> {
    return this.#run(() => this.#all('SELECT * FROM accounts ORDER BY id').map((r) => toAccount(r)!))
  }

  #endAccountCredentials(accountId: number, now: number): void {
    this.#exec('DELETE FROM sessions WHERE account_id = ?', accountId)
    this.#exec('DELETE FROM web_sessions WHERE account_id = ?', accountId)
    this.#exec('UPDATE access_tokens SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL', now, accountId)
    // A token the user approved but no client has turned into a session yet would outlive the change.
    this.#exec("UPDATE request_tokens SET status = 'denied' WHERE account_id = ? AND status = 'approved' AND consumed_at IS NULL", accountId)
    this.#exec("UPDATE v4_request_tokens SET status = 'denied' WHERE account_id = ? AND status = 'approved' AND consumed_at IS NULL", accountId)
  }

  setAccountDisabled(id: number, disabled: boolean, now: number): Promise<boolean> {
    return this.#write(() => {
      const changed = this.#exec('UPDATE accounts SET disabled = ? WHERE id = ?', disabled ? 1 : 0, id) === 1
      if (changed && disabled) this.#endAccountCredentials(id, now)
      return changed
    })
  }

  setAccountPassword(id: number, passwordHash: string, endSessions: boolean, now: number, expectedHash?: string): Promise<boolean> {
    return this.#write(() => {
      const guard = expectedHash ?? null
      const changed = this.#exec('UPDATE accounts SET password_hash = ? WHERE id = ? AND (? IS NULL OR password_hash = ?)', passwordHash, id, guard, guard) === 1
      if (changed && endSessions) this.#endAccountCredentials(id, now)
      return changed
    })
  }

  insertRequestToken(token: RequestTokenRecord): Promise<void> {
    return this.#write(() => {
      this.#exec(
        'INSERT INTO request_tokens (token_hash, app_id, created_at, expires_at, status, account_id, consumed_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        token.tokenHash,
        token.appId,
        token.createdAt,
        token.expiresAt,
        token.status,
        token.accountId,
        token.consumedAt,
      )
    })
  }

  findRequestToken(tokenHash: string): Promise<RequestTokenRecord | null> {
    return this.#run(() => toRequestToken(this.#get('SELECT * FROM request_tokens WHERE token_hash = ?', tokenHash)))
  }

  approveRequestToken(input: ApproveInput): Promise<RequestTokenRecord | null> {
    return this.#write(() =>
      toRequestToken(
        this.#get(
          `UPDATE request_tokens SET status = 'approved', account_id = ?
           WHERE token_hash = ? AND consumed_at IS NULL AND expires_at > ? AND (? IS NULL OR app_id = ?)
             AND (status = 'pending' OR (status = 'approved' AND account_id = ?))
           RETURNING *`,
          input.accountId,
          input.tokenHash,
          input.now,
          input.appId ?? null,
          input.appId ?? null,
          input.accountId,
        ),
      ),
    )
  }

  denyRequestToken(tokenHash: string, now: number): Promise<RequestTokenRecord | null> {
    return this.#write(() =>
      toRequestToken(
        this.#get(
          `UPDATE request_tokens SET status = 'denied'
           WHERE token_hash = ? AND consumed_at IS NULL AND expires_at > ? AND status = 'pending' RETURNING *`,
          tokenHash,
          now,
        ),
      ),
    )
  }

  createSessionFromRequestToken(
    tokenHash: string,
    appId: string,
    now: number,
    session: Omit<SessionRecord, 'accountId'>,
  ): Promise<ConsumeResult> {
    return this.#write((): ConsumeResult => {
      const consumed = this.#get(
        `UPDATE request_tokens SET consumed_at = ?
         WHERE token_hash = ? AND app_id = ? AND status = 'approved' AND consumed_at IS NULL AND expires_at > ?
         RETURNING account_id`,
        now,
        tokenHash,
        appId,
        now,
      )
      if (!consumed) return { ok: false, reason: whyNotConsumable(toRequestToken(this.#get('SELECT * FROM request_tokens WHERE token_hash = ?', tokenHash)), appId, now) }
      const accountId = consumed.account_id as number
      this.#insertSession({ ...session, accountId })
      return { ok: true, accountId }
    })
  }

  #insertSession(session: SessionRecord): void {
    this.#exec(
      'INSERT INTO sessions (session_hash, app_id, account_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
      session.sessionHash,
      session.appId,
      session.accountId,
      session.createdAt,
      session.expiresAt,
    )
  }

  insertSession(session: SessionRecord): Promise<void> {
    return this.#write(() => this.#insertSession(session))
  }

  findSession(sessionHash: string): Promise<SessionRecord | null> {
    return this.#run(() => toSession(this.#get('SELECT * FROM sessions WHERE session_hash = ?', sessionHash)))
  }

  async findSessionWithAccount(sessionHash: string): Promise<{ session: SessionRecord; account: AccountRecord } | null> {
    return toSessionWithAccount(await this.#sessionChecks.find(sessionHash))
  }

  deleteSession(sessionHash: string, appId: string): Promise<boolean> {
    return this.#write(() => this.#exec('DELETE FROM sessions WHERE session_hash = ? AND app_id = ?', sessionHash, appId) === 1)
  }

  insertGuestSession(session: GuestSessionRecord): Promise<void> {
    return this.#write(() => {
      this.#exec(
        'INSERT INTO guest_sessions (session_hash, app_id, created_at, expires_at) VALUES (?, ?, ?, ?)',
        session.sessionHash,
        session.appId,
        session.createdAt,
        session.expiresAt,
      )
    })
  }

  findGuestSession(sessionHash: string): Promise<GuestSessionRecord | null> {
    return this.#run(() => {
      return toGuestSession(this.#get('SELECT * FROM guest_sessions WHERE session_hash = ?', sessionHash))
    })
  }

  insertV4RequestToken(token: V4RequestTokenRecord): Promise<void> {
    return this.#write(() => {
      this.#exec(
        'INSERT INTO v4_request_tokens (id_hash, app_id, created_at, expires_at, redirect_to, status, account_id, consumed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        token.idHash,
        token.appId,
        token.createdAt,
        token.expiresAt,
        token.redirectTo,
        token.status,
        token.accountId,
        token.consumedAt,
      )
    })
  }

  findV4RequestToken(idHash: string): Promise<V4RequestTokenRecord | null> {
    return this.#run(() => toV4RequestToken(this.#get('SELECT * FROM v4_request_tokens WHERE id_hash = ?', idHash)))
  }

  approveV4RequestToken(idHash: string, accountId: number, now: number): Promise<V4RequestTokenRecord | null> {
    return this.#write(() =>
      toV4RequestToken(
        this.#get(
          `UPDATE v4_request_tokens SET status = 'approved', account_id = ?
           WHERE id_hash = ? AND consumed_at IS NULL AND expires_at > ?
             AND (status = 'pending' OR (status = 'approved' AND account_id = ?))
           RETURNING *`,
          accountId,
          idHash,
          now,
          accountId,
        ),
      ),
    )
  }

  denyV4RequestToken(idHash: string, now: number): Promise<V4RequestTokenRecord | null> {
    return this.#write(() =>
      toV4RequestToken(
        this.#get(
          `UPDATE v4_request_tokens SET status = 'denied'
           WHERE id_hash = ? AND consumed_at IS NULL AND expires_at > ? AND status = 'pending' RETURNING *`,
          idHash,
          now,
        ),
      ),
    )
  }

  createAccessTokenFromRequestToken(
    idHash: string,
    appId: string,
    now: number,
    accessToken: Omit<AccessTokenRecord, 'accountId'>,
  ): Promise<ConsumeResult> {
    return this.#write((): ConsumeResult => {
      const consumed = this.#get(
        `UPDATE v4_request_tokens SET consumed_at = ?
         WHERE id_hash = ? AND app_id = ? AND status = 'approved' AND consumed_at IS NULL AND expires_at > ?
         RETURNING account_id`,
        now,
        idHash,
        appId,
        now,
      )
      if (!consumed) return { ok: false, reason: whyNotConsumable(toV4RequestToken(this.#get('SELECT * FROM v4_request_tokens WHERE id_hash = ?', idHash)), appId, now) }
      const accountId = consumed.account_id as number
      this.#exec(
        'INSERT INTO access_tokens (id_hash, app_id, account_id, created_at, revoked_at) VALUES (?, ?, ?, ?, ?)',
        accessToken.idHash,
        accessToken.appId,
        accountId,
        accessToken.createdAt,
        accessToken.revokedAt,
      )
      return { ok: true, accountId }
    })
  }

  findAccessToken(idHash: string): Promise<AccessTokenRecord | null> {
    return this.#run(() => {
      return toAccessToken(this.#get('SELECT * FROM access_tokens WHERE id_hash = ?', idHash))
    })
  }

  revokeAccessToken(idHash: string, appId: string, now: number): Promise<boolean> {
    return this.#write(
      () => this.#exec('UPDATE access_tokens SET revoked_at = ? WHERE id_hash = ? AND app_id = ? AND revoked_at IS NULL', now, idHash, appId) === 1,
    )
  }

  listSigningKeys(): Promise<SigningKeyRecord[]> {
    return this.#run(() =>
      this.#all('SELECT * FROM signing_keys ORDER BY created_at, kid').map(toSigningKey),
    )
  }

  insertSigningKey(key: SigningKeyRecord): Promise<void> {
    return this.#write(() => {
      this.#exec('INSERT INTO signing_keys (kid, secret, created_at, retired_at) VALUES (?, ?, ?, ?)', key.kid, key.secret, key.createdAt, key.retiredAt)
    })
  }

  retireSigningKey(kid: string, now: number): Promise<boolean> {
    return this.#write(() => this.#exec('UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL', now, kid) === 1)
  }

  insertWebSession(session: WebSessionRecord): Promise<void> {
    return this.#write(() => {
      this.#exec(
        'INSERT INTO web_sessions (session_hash, account_id, created_at, expires_at) VALUES (?, ?, ?, ?)',
        session.sessionHash,
        session.accountId,
        session.createdAt,
        session.expiresAt,
      )
    })
  }

  findWebSession(sessionHash: string): Promise<WebSessionRecord | null> {
    return this.#run(() => {
      return toWebSession(this.#get('SELECT * FROM web_sessions WHERE session_hash = ?', sessionHash))
    })
  }

  deleteWebSession(sessionHash: string): Promise<void> {
    return this.#write(() => {
      this.#exec('DELETE FROM web_sessions WHERE session_hash = ?', sessionHash)
    })
  }

  purgeExpired(now: number, limit: number): Promise<number> {
    return this.#write(() => {
      let remaining = limit
      for (const [table, key, extra] of PURGEABLE) {
        if (remaining <= 0) break
        remaining -= this.#exec(
          `DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE expires_at <= ?${extra} LIMIT ?)`,
          now,
          remaining,
        )
      }
      return limit - remaining
    })
  }

  isEmpty(): Promise<boolean> {
    return this.#run(() => SNAPSHOT_TABLES.every(({ table }) => this.#get(`SELECT 1 AS found FROM ${table} LIMIT 1`) === undefined))
  }

  exportAll(): Promise<StoreSnapshot> {
    // A deferred transaction: one read snapshot of the WAL for every table.
    return this.#run(() => this.#db.transaction(() => snapshotFromRows((table) => this.#all(`SELECT * FROM ${table} ORDER BY ${keyOf(table)}`))).deferred())
  }

  replaceAll(snapshot: StoreSnapshot): Promise<void> {
    return this.#write(() => {
      const tables = snapshotTables(snapshot, (value) => (value ? 1 : 0))
      for (const { table } of [...tables].reverse()) this.#exec(`DELETE FROM ${table}`)
      for (const { table, columns, rows } of tables) {
        const insert = this.#db.prepare(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`)
        for (const row of rows) insert.run(...row)
      }
    })
  }

  countLive(now: number): Promise<LiveCounts> {
    return this.#run(() => {
      const count = (sql: string, ...params: unknown[]): number => this.#get(sql, ...params)!.n as number
      return {
        requestTokens: count('SELECT count(*) AS n FROM request_tokens WHERE expires_at > ? AND consumed_at IS NULL', now),
        sessions: count('SELECT count(*) AS n FROM sessions WHERE expires_at IS NULL OR expires_at > ?', now),
        guestSessions: count('SELECT count(*) AS n FROM guest_sessions WHERE expires_at > ?', now),
        accessTokens: count('SELECT count(*) AS n FROM access_tokens WHERE revoked_at IS NULL'),
      }
    })
  }

  // account page:

  listAccountCredentials(accountId: number, now: number, limit: number): Promise<AccountCredential[]> {
    return this.#run(() =>
      this.#all(
        `SELECT 'session' AS kind, s.session_hash AS hash, a.name AS app_name, s.created_at, s.expires_at, NULL AS last_used_at
           FROM sessions s JOIN applications a ON a.id = s.app_id
          WHERE s.account_id = ? AND (s.expires_at IS NULL OR s.expires_at > ?)
         UNION ALL
         SELECT 'access_token', t.id_hash, a.name, t.created_at, NULL, NULL
           FROM access_tokens t JOIN applications a ON a.id = t.app_id
          WHERE t.account_id = ? AND t.revoked_at IS NULL
         UNION ALL
         SELECT 'web_session', w.session_hash, NULL, w.created_at, w.expires_at, w.last_used_at
           FROM web_sessions w WHERE w.account_id = ? AND w.expires_at > ?
         ORDER BY created_at DESC, hash LIMIT ?`,
        accountId,
        now,
        accountId,
        accountId,
        now,
        limit,
      ).map(toAccountCredential),
    )
  }

  endAccountCredential(accountId: number, credential: CredentialRef, now: number): Promise<boolean> {
    return this.#write(() => {
      switch (credential.kind) {
        case 'session':
          return this.#exec('DELETE FROM sessions WHERE session_hash = ? AND account_id = ?', credential.hash, accountId) === 1
        case 'web_session':
          return this.#exec('DELETE FROM web_sessions WHERE session_hash = ? AND account_id = ?', credential.hash, accountId) === 1
        case 'access_token':
          return this.#exec('UPDATE access_tokens SET revoked_at = ? WHERE id_hash = ? AND account_id = ? AND revoked_at IS NULL', now, credential.hash, accountId) === 1
      }
    })
  }

  #endAccountCredentialsExcept(accountId: number, now: number, keepWebSessionHash: string | null): void {
    this.#exec('DELETE FROM sessions WHERE account_id = ?', accountId)
    this.#exec('DELETE FROM web_sessions WHERE account_id = ? AND session_hash IS NOT ?', accountId, keepWebSessionHash)
    this.#exec('UPDATE access_tokens SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL', now, accountId)
    this.#exec("UPDATE request_tokens SET status = 'denied' WHERE account_id = ? AND status = 'approved' AND consumed_at IS NULL", accountId)
    this.#exec("UPDATE v4_request_tokens SET status = 'denied' WHERE account_id = ? AND status = 'approved' AND consumed_at IS NULL", accountId)
  }

  endAccountCredentials(accountId: number, now: number, keepWebSessionHash: string | null): Promise<void> {
    return this.#write(() => this.#endAccountCredentialsExcept(accountId, now, keepWebSessionHash))
  }

  changeAccountPassword(input: PasswordChange): Promise<boolean> {
    return this.#write(() => {
      const changed = this.#exec('UPDATE accounts SET password_hash = ? WHERE id = ? AND password_hash = ?', input.passwordHash, input.accountId, input.expectedHash) === 1
      if (changed) this.#endAccountCredentialsExcept(input.accountId, input.now, input.keepWebSessionHash)
      return changed
    })
  }

  touchWebSession(sessionHash: string, now: number, intervalMs: number): Promise<void> {
    return this.#write(() => {
      this.#exec('UPDATE web_sessions SET last_used_at = ? WHERE session_hash = ? AND (last_used_at IS NULL OR last_used_at <= ?)', now, sessionHash, now - intervalMs)
    })
  }

  setAccountName(accountId: number, name: string): Promise<boolean> {
    return this.#write(() => this.#exec('UPDATE accounts SET name = ? WHERE id = ?', name, accountId) === 1)
  }

  insertPasswordResetToken(token: PasswordResetTokenRecord): Promise<void> {
    return this.#write(() => {
      this.#exec('DELETE FROM password_reset_tokens WHERE account_id = ? OR expires_at <= ?', token.accountId, token.createdAt)
      this.#exec(
        'INSERT INTO password_reset_tokens (token_hash, account_id, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?)',
        token.tokenHash,
        token.accountId,
        token.createdAt,
        token.expiresAt,
        token.usedAt,
      )
    })
  }

  findPasswordResetToken(tokenHash: string): Promise<PasswordResetTokenRecord | null> {
    return this.#run(() => toPasswordResetToken(this.#get('SELECT * FROM password_reset_tokens WHERE token_hash = ?', tokenHash)))
  }

  resetPasswordWithToken(tokenHash: string, passwordHash: string, now: number): Promise<number | null> {
    return this.#write(() => {
      const used = this.#get(
        'UPDATE password_reset_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING account_id',
        now,
        tokenHash,
        now,
      )
      if (!used) return null
      const accountId = used.account_id as number
      this.#exec('UPDATE accounts SET password_hash = ? WHERE id = ?', passwordHash, accountId)
      this.#endAccountCredentialsExcept(accountId, now, null)
      return accountId
    })
  }
}

function keyOf(table: string): string {
  return SNAPSHOT_TABLES.find((entry) => entry.table === table)!.key
}

// Tables whose rows die at `expires_at`; sessions only when a lifetime was configured.
const PURGEABLE: readonly [table: string, key: string, extra: string][] = [
  ['request_tokens', 'token_hash', ''],
  ['v4_request_tokens', 'id_hash', ''],
  ['guest_sessions', 'session_hash', ''],
  ['web_sessions', 'session_hash', ''],
  ['sessions', 'session_hash', ' AND expires_at IS NOT NULL'],
]

function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string' && UNAVAILABLE_CODES.test(code)) return true
  return error instanceof TypeError && /database connection is not open/.test(error.message)
}
