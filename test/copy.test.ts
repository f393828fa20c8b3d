import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config/config.js'
import { buildCore, openStore } from '../src/server.js'
import { temporaryDirectory } from '../src/test-support/fixtures.js'
import { postgresSkipReason } from '../src/test-support/postgres.js'
import { createBackend, seed, type TestBackend } from './support/backends.js'
import { V3, request } from './support/flow.js'
import { runCli, spawnServer } from './support/processes.js'

const skipReason = await postgresSkipReason('cinepass copy')
const cleanups: (() => Promise<void> | void)[] = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
}, 60_000)

const TABLES = [
  'meta',
  'applications',
  'accounts',
  'request_tokens',
  'sessions',
  'guest_sessions',
  'v4_request_tokens',
  'access_tokens',
  'signing_keys',
  'web_sessions',
]
const KEYS: Record<string, string> = {
  meta: 'key',
  applications: 'id',
  accounts: 'id',
  signing_keys: 'kid',
  v4_request_tokens: 'id_hash',
  access_tokens: 'id_hash',
  request_tokens: 'token_hash',
}

/** Every row of every table, with flags and numbers in one form whichever backend they came from. */
async function allRows(backend: TestBackend): Promise<Record<string, Record<string, unknown>[]>> {
  const normal = (value: unknown): unknown =>
    typeof value === 'boolean' ? Number(value) : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value
  const result: Record<string, Record<string, unknown>[]> = {}
  for (const table of TABLES) {
    const rows = await backend.query(`SELECT * FROM ${table} ORDER BY ${KEYS[table] ?? 'session_hash'}`)
    result[table] = rows.map((row) => Object.fromEntries(Object.entries(row).map(([column, value]) => [column, normal(value)])))
  }
  return result
}

describe.skipIf(skipReason !== null)('cinepass copy', () => {
  it('SQLite → PostgreSQL → SQLite keeps every row, and sessions made before the copy work against each target', async () => {
    const dir = temporaryDirectory('cinepass-copy-')
    cleanups.push(dir.remove)
    const original = await createBackend('sqlite', { dir: join(dir.path, 'a') })
    const postgres = await createBackend('postgres')
    cleanups.push(postgres.remove)
    const roundTrip = await createBackend('sqlite', { dir: join(dir.path, 'b') })
    const seeded = await seed(original.database, 3)

    // Real traffic on the source: sessions, one deleted, a guest session, a v4 access token.
    const source = await spawnServer(original.database)
    const v3 = new V3(source.url, seeded.apiKey)
    const sessions = new Map<string, number>()
    for (const user of seeded.users) {
      const session = await v3.sessionNew(await v3.approvedToken(user))
      expect(session.status).toBe(200)
      sessions.set(session.body.session_id, user.id)
    }
    const deleted = (await v3.sessionNew(await v3.approvedToken(seeded.users[0]!))).body.session_id as string
    expect((await v3.deleteSession(deleted)).status).toBe(200)
    expect((await v3.guestSession()).status).toBe(200)
    await v3.tokenNew()
    expect(await source.stop()).toEqual({ code: 0, signal: null })
    const rows = await allRows(original)
    for (const table of ['meta', 'v4_request_tokens', 'access_tokens', 'web_sessions']) delete rows[table]
    expect(Object.values(rows).every((list) => list.length > 0)).toBe(true)

    const toPostgres = await runCli(['copy', '--from', original.database, '--to', postgres.database, '--json'])
    expect(toPostgres.code, toPostgres.stderr).toBe(0)
    expect(JSON.parse(toPostgres.stdout)).toMatchObject({ from: 'sqlite', to: 'postgres', rows: { sessions: 3, accounts: 3 } })
    const back = await runCli(['copy', '--from', postgres.database, '--to', roundTrip.database, '--json'])
    expect(back.code, back.stderr).toBe(0)

    const everything = await allRows(original)
    expect(await allRows(postgres)).toEqual(everything)
    expect(await allRows(roundTrip)).toEqual(everything)

    for (const target of [postgres, roundTrip]) {
      const server = await spawnServer(target.database)
      const on = new V3(server.url, seeded.apiKey)
      for (const [sessionId, accountId] of sessions) expect(await on.account(sessionId)).toMatchObject({ status: 200, body: { id: accountId } })
      expect(await on.account(deleted)).toMatchObject({ status: 401, body: { status_code: 3 } })
      // The signing keys came along: the application's read access token still verifies.
      expect(await request(`${server.url}/3/authentication`, { headers: { authorization: `Bearer ${seeded.readAccessToken}` } })).toMatchObject({ status: 200 })
      // New accounts and sessions keep working on top of the copied ids.
      const store = await openStore(loadConfig({ CINEPASS_DATABASE: target.database }))
      const created = await buildCore(store, loadConfig({})).admin.createUser({ username: `after_${target.kind}`, password: 'a new password' })
      await store.close()
      expect(created.id).toBeGreaterThan(Math.max(...seeded.users.map((user) => user.id)))
      expect(await on.sessionNew(await on.approvedToken(seeded.users[1]!))).toMatchObject({ status: 200 })
      expect(await server.stop()).toEqual({ code: 0, signal: null })
    }
  }, 120_000)

  it('refuses a non-empty target without --force, and replaces it with --force', async () => {
    const dir = temporaryDirectory('cinepass-copy-')
    cleanups.push(dir.remove)
    const source = await createBackend('sqlite', { dir: join(dir.path, 'source') })
    const target = await createBackend('postgres')
    cleanups.push(target.remove)
    const seededSource = await seed(source.database, 1)
    await seed(target.database, 2)

    const refused = await runCli(['copy', '--from', source.database, '--to', target.database])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/not empty; add --force/)
    expect(Number((await target.query('SELECT count(*) AS n FROM accounts'))[0]!.n)).toBe(2)

    const forced = await runCli(['copy', '--from', source.database, '--to', target.database, '--force'])
    expect(forced.code, forced.stderr).toBe(0)
    expect(await target.query('SELECT id FROM applications')).toEqual([{ id: seededSource.appId }])
    expect(Number((await target.query('SELECT count(*) AS n FROM accounts'))[0]!.n)).toBe(1)

    const missing = await runCli(['copy', '--from', join(dir.path, 'typo.db'), '--to', target.database, '--force'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/no database at/)
  }, 60_000)
})
