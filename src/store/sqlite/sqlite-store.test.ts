import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { StoreUnavailableError } from '../../core/errors.js'
import type { RequestTokenRecord } from '../../core/store.js'
import { fillDisk, mountSmallDisk } from '../../test-support/disk.js'
import { temporaryDirectory, temporarySqliteStore } from '../../test-support/fixtures.js'
import { runStoreContract } from '../store-contract.js'
import { SqliteStore } from './sqlite-store.js'

runStoreContract('sqlite', async () => {
  const { store, remove } = temporarySqliteStore()
  return { store, teardown: remove }
})

const now = Date.UTC(2026, 0, 1, 12)
const appRecord = () => ({ id: randomBytes(12).toString('hex'), name: 'app', apiKeyHash: randomBytes(32).toString('hex'), suspended: false, createdAt: now, redirectOrigins: [] })
const token = (appId: string): RequestTokenRecord => ({
  tokenHash: randomBytes(32).toString('hex'),
  appId,
  createdAt: now,
  expiresAt: now + 3_600_000,
  status: 'pending',
  accountId: null,
  consumedAt: null, epoch: null,
})

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
