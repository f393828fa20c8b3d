import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RequestTokenRecord } from '../../core/store.js'
import { createTemporaryPostgresDatabase, postgresSkipReason, type TemporaryPostgresDatabase } from '../../test-support/postgres.js'
import { runStoreContract } from '../store-contract.js'
import { PostgresStore } from './postgres-store.js'
import { pendingRequestTokenRow } from '../../test-support/records.js'

const skipReason = await postgresSkipReason('postgres store contract')

// Without PostgreSQL, postgresSkipReason has printed why (and in CI it fails instead).
if (!skipReason) {
  runStoreContract('postgres', async () => {
    const database = await createTemporaryPostgresDatabase()
    const store = await PostgresStore.open(database.url)
    return {
      store,
      teardown: async () => {
        await store.close()
        await database.drop()
      },
    }
  })
}

// Group commit of the hot endpoints' inserts and batched session checks: PostgreSQL-only (the SQLite
// store works in-process).
describe.skipIf(skipReason !== null)('PostgresStore group commit', () => {
  const hex = (bytes: number): string => randomBytes(bytes).toString('hex')
  const now = Date.now()
  const appId = hex(12)
  let database: TemporaryPostgresDatabase
  let store: PostgresStore
  const token = (): RequestTokenRecord => pendingRequestTokenRow(appId, now)
  // Counted on a connection of its own: what it sees has been committed.
  const committed = async (hashes: string[]): Promise<number> =>
    Number((await database.query('SELECT count(*) AS n FROM request_tokens WHERE token_hash = ANY($1::text[])', [hashes]))[0]!.n)

  beforeAll(async () => {
    database = await createTemporaryPostgresDatabase()
    store = await PostgresStore.open(database.url)
    await store.insertApplication({ id: appId, name: 'batch', apiKeyHash: hex(32), suspended: false, createdAt: now, redirectOrigins: [] })
  })
  afterAll(async () => {
    await store.close()
    await database.drop()
  })

  it('insertRequestToken() calls made in one moment are committed together and each is found', async () => {
    const tokens = Array.from({ length: 1000 }, token)
    await Promise.all(tokens.map((t) => store.insertRequestToken(t)))
    expect(await committed(tokens.map((t) => t.tokenHash))).toBe(1000)
    for (const t of [tokens[0]!, tokens[499]!, tokens[500]!, tokens[999]!]) expect(await store.findRequestToken(t.tokenHash)).toEqual(t)
  })

  it('a session or guest session naming an unknown application fails alone; the others of its moment commit', async () => {
    const good = Array.from({ length: 5 }, () => ({ sessionHash: hex(32), appId, createdAt: now, expiresAt: now + 1000 }))
    const bad = { ...good[0]!, sessionHash: hex(32), appId: hex(12) }
    const results = await Promise.allSettled([...good, bad].map((s) => store.insertGuestSession(s)))
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected'])
    expect((results[5] as PromiseRejectedResult).reason).toMatchObject({ code: '23503' })
    for (const s of good) expect(await store.findGuestSession(s.sessionHash)).toEqual(s)
    expect(await store.findGuestSession(bad.sessionHash)).toBeNull()
  })

  it('close() commits inserts still waiting for their group before ending the pool', async () => {
    const own = await PostgresStore.open(database.url)
    const tokens = Array.from({ length: 3 }, token)
    const inserts = tokens.map((t) => own.insertRequestToken(t))
    await own.close()
    await Promise.all(inserts)
    expect(await committed(tokens.map((t) => t.tokenHash))).toBe(3)
  })

  it('createSessionFromRequestToken() tells the truth about a token another transaction denies while the batch waits for it', async () => {
    const account = (await store.insertAccount({
      objectId: hex(12),
      username: `u_${hex(4)}`,
      name: 'u',
      email: null,
      language: 'en',
      country: 'US',
      includeAdult: false,
      passwordHash: 'x',
      createdAt: now,
    }))!
    const denied = token()
    await store.insertRequestToken(denied)
    await store.approveRequestToken({ tokenHash: denied.tokenHash, accountId: account.id, epoch: account.epoch, now, appId })
    // Another instance (an account disabled there) denies the token, holding its row lock a moment.
    const other = new pg.Client({ connectionString: database.url })
    await other.connect()
    try {
      await other.query('BEGIN')
      await other.query("UPDATE request_tokens SET status = 'denied' WHERE token_hash = $1", [denied.tokenHash])
      const session = { sessionHash: hex(32), appId, createdAt: now, expiresAt: null }
      const consuming = store.createSessionFromRequestToken(denied.tokenHash, appId, now, session)
      await new Promise((resolve) => setTimeout(resolve, 200))
      await other.query('COMMIT')
      // As it would be alone: the token was denied, not spent.
      expect(await consuming).toEqual({ ok: false, reason: 'denied' })
      expect(await store.findSession(session.sessionHash)).toBeNull()
    } finally {
      await other.end()
    }
  })
})
