import { afterAll, describe, expect, it } from 'vitest'
import { StoreUnavailableError } from '../../core/errors.js'
import { createTemporaryPostgresDatabase, postgresSkipReason, type TemporaryPostgresDatabase } from '../../test-support/postgres.js'
import { POSTGRES_MIGRATIONS } from './migrations.js'
import { PostgresStore, isUnavailable } from './postgres-store.js'

// What only the PostgreSQL store has: its pool, its migration lock, its error mapping. The Store
// behaviour itself is the contract suite's (postgres-store.test.ts).
const skipReason = await postgresSkipReason('postgres store connections')
const databases: TemporaryPostgresDatabase[] = []
afterAll(async () => {
  for (const database of databases) await database.drop()
})

describe('isUnavailable()', () => {
  it.each([
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['a statement timeout (57014)', Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' })],
    ['a server shutting down (57P01)', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })],
    ['a connection failure (08006)', Object.assign(new Error('connection failure'), { code: '08006' })],
    ['too many connections (53300)', Object.assign(new Error('sorry, too many clients already'), { code: '53300' })],
    ['a serialization failure (40001)', Object.assign(new Error('could not serialize access'), { code: '40001' })],
    ['a pool connect timeout', new Error('timeout exceeded when trying to connect')],
    ['a lost connection', new Error('Connection terminated unexpectedly')],
    ['a client-side query timeout', new Error('Query read timeout')],
  ])('treats %s as the database being unavailable', (_name, error) => {
    expect(isUnavailable(error)).toBe(true)
  })

  it.each([
    ['a unique violation (23505)', Object.assign(new Error('duplicate key'), { code: '23505' })],
    ['a foreign key violation (23503)', Object.assign(new Error('violates foreign key'), { code: '23503' })],
    ['a syntax error (42601)', Object.assign(new Error('syntax error'), { code: '42601' })],
    ['a plain bug', new TypeError('x is undefined')],
  ])('treats %s as a bug, not an outage', (_name, error) => {
    expect(isUnavailable(error)).toBe(false)
  })
})

describe.skipIf(skipReason !== null)('PostgresStore connections', () => {
  async function freshUrl(): Promise<TemporaryPostgresDatabase> {
    const database = await createTemporaryPostgresDatabase()
    databases.push(database)
    return database
  }

  it('open() on five stores at once applies each migration exactly once', async () => {
    const database = await freshUrl()
    const stores = await Promise.all(Array.from({ length: 5 }, () => PostgresStore.open(database.url, { poolSize: 2 })))
    try {
      const rows = await database.query('SELECT version, count(*) AS n FROM schema_migrations GROUP BY version ORDER BY version')
      expect(rows.map((row) => [Number(row.version), Number(row.n)])).toEqual(POSTGRES_MIGRATIONS.map((m) => [m.version, 1]))
      for (const store of stores) expect(await store.schemaVersion()).toBe(POSTGRES_MIGRATIONS.at(-1)!.version)
      expect(await stores[0]!.migrate()).toBe(0)
    } finally {
      await Promise.all(stores.map((store) => store.close()))
    }
  })

  it('poolStats() reports open, idle and waiting connections, never more open than the pool size', async () => {
    const database = await freshUrl()
    const store = await PostgresStore.open(database.url, { poolSize: 3 })
    try {
      const pings = Array.from({ length: 12 }, () => store.ping())
      const busy = store.poolStats()
      expect(busy.total).toBeLessThanOrEqual(3)
      expect(busy.waiting).toBeGreaterThan(0)
      await Promise.all(pings)
      const calm = store.poolStats()
      expect(calm).toEqual({ total: calm.idle, idle: calm.idle, waiting: 0 })
      expect(calm.total).toBeGreaterThan(0)
    } finally {
      await store.close()
    }
  })

  it('open() on a server that refuses connections throws StoreUnavailableError', async () => {
    await expect(PostgresStore.open('postgres://postgres@127.0.0.1:1/none')).rejects.toBeInstanceOf(StoreUnavailableError)
  })

  it('a closed store throws StoreUnavailableError, as the SQLite store does', async () => {
    const database = await freshUrl()
    const store = await PostgresStore.open(database.url)
    await store.close()
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError)
    await expect(store.findSession('0'.repeat(64))).rejects.toBeInstanceOf(StoreUnavailableError)
  })
})
