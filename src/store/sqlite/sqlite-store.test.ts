import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { StoreUnavailableError } from '../../core/errors.js'
import type { RequestTokenRecord } from '../../core/store.js'
import { fillDisk, mountSmallDisk } from '../../test-support/disk.js'
import { temporaryDirectory, temporarySqliteStore } from '../../test-support/fixtures.js'
import { runStoreContract } from '../store-contract.js'
import { CREDENTIALS_EPOCH } from '../sql/migrations.js'
import { SQLITE_MIGRATIONS } from './migrations.js'
import { SqliteStore } from './sqlite-store.js'
import { pendingRequestTokenRow } from '../../test-support/records.js'

runStoreContract('sqlite', () => {
  const { store, remove } = temporarySqliteStore()
  return Promise.resolve({ store, teardown: remove })
})

const now = Date.UTC(2026, 0, 1, 12)
const appRecord = () => ({
  id: randomBytes(12).toString('hex'),
  name: 'app',
  apiKeyHash: randomBytes(32).toString('hex'),
  suspended: false,
  createdAt: now,
  redirectOrigins: [],
})
const token = (appId: string): RequestTokenRecord => pendingRequestTokenRow(appId, now)

describe('sqlite group commit', () => {
  it('rejects every write of a batch whose commit fails, keeps none of them, and commits the next batch', async () => {
    // The next COMMIT fails as a failing disk would make it.
    let failNextCommit = false
    const dir = temporaryDirectory()
    const store = SqliteStore.open(join(dir.path, 'cinepass.db'), {
      wrapConnection: (connection) => ({
        run: (sql, params) => {
          if (sql === 'COMMIT' && failNextCommit) {
            failNextCommit = false
            throw Object.assign(new Error('injected commit failure'), { code: 'SQLITE_IOERR' })
          }
          return connection.run(sql, params)
        },
        get: (sql, params) => connection.get(sql, params),
        all: (sql, params) => connection.all(sql, params),
        get inTransaction() {
          return connection.inTransaction
        },
        get open() {
          return connection.open
        },
      }),
    })
    try {
      const app = appRecord()
      await store.insertApplication(app)
      const batch = Array.from({ length: 50 }, () => token(app.id))
      failNextCommit = true
      const results = await Promise.allSettled(batch.map((t) => store.insertRequestToken(t)))
      expect(results.map((r) => r.status === 'rejected' && r.reason instanceof StoreUnavailableError)).toEqual(batch.map(() => true))
      for (const t of batch) expect(await store.findRequestToken(t.tokenHash)).toBeNull()
      const next = token(app.id)
      await store.insertRequestToken(next)
      expect(await store.findRequestToken(next.tokenHash)).not.toBeNull()
    } finally {
      await store.close()
      dir.remove()
    }
  })

  it('commits writes still queued when the store closes', async () => {
    const { store, path, remove } = temporarySqliteStore()
    const app = appRecord()
    await store.insertApplication(app)
    const queued = token(app.id)
    const write = store.insertRequestToken(queued)
    await store.close()
    await write
    const reopened = SqliteStore.open(path)
    expect(await reopened.findRequestToken(queued.tokenHash)).not.toBeNull()
    await reopened.close()
    await remove()
  })

  // A real failing disk: a 2 MiB tmpfs (needs root), filled up before a batch that needs new space.
  const disk = mountSmallDisk(2, 'cinepass-batchfull-')
  const mountProblem = disk.problem
  if (mountProblem) console.warn(`group commit on a full disk skipped: ${mountProblem}`)

  it.skipIf(mountProblem !== null)('fails every write of a batch on a full disk with StoreUnavailableError, and none of them is kept', async () => {
    const path = join(disk.path, 'cinepass.db')
    const filler = join(disk.path, 'filler')
    const store = SqliteStore.open(path)
    try {
      const app = appRecord()
      await store.insertApplication(app)
      fillDisk(filler)
      // Far more rows than the WAL already has room for: the batch must grow the files, and cannot.
      const batch = Array.from({ length: 3000 }, () => token(app.id))
      const results = await Promise.allSettled(batch.map((t) => store.insertRequestToken(t)))
      const refused = results.filter((r) => r.status === 'rejected' && r.reason instanceof StoreUnavailableError).length
      expect(refused).toBe(batch.length)
      rmSync(filler)
      for (const t of batch.slice(0, 100)) expect(await store.findRequestToken(t.tokenHash)).toBeNull()
      expect((await store.countLive(now)).requestTokens).toBe(0)
      const next = token(app.id)
      await store.insertRequestToken(next)
      expect(await store.findRequestToken(next.tokenHash)).not.toBeNull()
    } finally {
      await store.close()
      disk.remove()
    }
  })
})

describe('sqlite migration 3 (credentials epoch)', () => {
  it('keeps the sessions, website sessions and access tokens of a database made before it working', async () => {
    const dir = temporaryDirectory()
    const path = join(dir.path, 'cinepass.db')
    // A database as every migration before this one left it, with one credential of each kind.
    const old = new Database(path)
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)')
    const before = SQLITE_MIGRATIONS.filter((migration) => migration.version < CREDENTIALS_EPOCH.version)
    expect(before.map((migration) => migration.version)).toEqual([1, 2])
    for (const migration of before) {
      old.exec(migration.sql)
      old.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(migration.version, migration.name, now)
    }
    const app = appRecord()
    old.prepare("INSERT INTO applications (id, name, api_key_hash, created_at) VALUES (?, 'app', ?, ?)").run(app.id, app.apiKeyHash, now)
    old
      .prepare("INSERT INTO accounts (id, object_id, username, username_key, password_hash, created_at) VALUES (1, ?, 'ann', 'ann', 'h', ?)")
      .run(randomBytes(12).toString('hex'), now)
    const [session, web, access] = [randomBytes(32).toString('hex'), randomBytes(32).toString('hex'), randomBytes(32).toString('hex')]
    old.prepare('INSERT INTO sessions (session_hash, app_id, account_id, created_at) VALUES (?, ?, 1, ?)').run(session, app.id, now)
    old.prepare('INSERT INTO web_sessions (session_hash, account_id, created_at, expires_at) VALUES (?, 1, ?, ?)').run(web, now, now + 1000)
    old.prepare('INSERT INTO access_tokens (id_hash, app_id, account_id, created_at) VALUES (?, ?, 1, ?)').run(access, app.id, now)
    old.close()
    const store = SqliteStore.open(path)
    try {
      expect(await store.schemaVersion()).toBe(SQLITE_MIGRATIONS.at(-1)!.version)
      const found = (await store.findSessionWithAccount(session))!
      expect(found.session.epoch).toBe(found.account.epoch)
      expect((await store.findWebSession(web))!.epoch).toBe(found.account.epoch)
      expect((await store.findAccessToken(access))!.epoch).toBe(found.account.epoch)
      expect(
        await store.createSessionFromAccessToken(access, { sessionHash: randomBytes(32).toString('hex'), appId: app.id, createdAt: now, expiresAt: null }),
      ).toBe(1)
    } finally {
      await store.close()
      dir.remove()
    }
  })
})
