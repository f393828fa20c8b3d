import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { POSTGRES_MIGRATIONS } from '../src/store/postgres/migrations.js'
import { createTemporaryPostgresDatabase, postgresSkipReason, type TemporaryPostgresDatabase } from '../src/test-support/postgres.js'
import { seed, type Seeded } from './support/backends.js'
import { V3, request } from './support/flow.js'
import { runCli, spawnServer, type ServerProcess } from './support/processes.js'

const skipReason = await postgresSkipReason('several instances on one PostgreSQL')
const databases: TemporaryPostgresDatabase[] = []
const servers: ServerProcess[] = []

afterAll(async () => {
  for (const server of servers) await server.stop()
  for (const database of databases) await database.drop()
}, 60_000)

async function freshDatabase(): Promise<TemporaryPostgresDatabase> {
  const database = await createTemporaryPostgresDatabase()
  databases.push(database)
  return database
}

async function spawn(database: TemporaryPostgresDatabase): Promise<ServerProcess> {
  const server = await spawnServer(database.url)
  servers.push(server)
  return server
}

describe.skipIf(skipReason !== null)('two cinepass instances on one PostgreSQL', () => {
  let seeded: Seeded
  let a: V3
  let b: V3

  beforeAll(async () => {
    const database = await freshDatabase()
    seeded = await seed(database.url, 2)
    const [first, second] = await Promise.all([spawn(database), spawn(database)])
    a = new V3(first.url, seeded.apiKey)
    b = new V3(second.url, seeded.apiKey)
  }, 60_000)

  it('a token made on A is validated on B, its session works on B, and deleted on B it is refused on A at once', async () => {
    const user = seeded.users[0]!
    const token = await a.tokenNew()
    expect(token.status).toBe(200)
    expect(await b.validate(token.body.request_token, user.username, user.password)).toMatchObject({ status: 200, body: { success: true } })
    const session = await a.sessionNew(token.body.request_token)
    expect(session.status).toBe(200)
    const sessionId = session.body.session_id as string
    expect(await b.account(sessionId)).toMatchObject({ status: 200, body: { id: user.id } })
    expect(await a.account(sessionId)).toMatchObject({ status: 200, body: { id: user.id } })
    expect(await b.deleteSession(sessionId)).toMatchObject({ status: 200, body: { success: true } })
    // No cache anywhere: the very next request on the other instance is refused.
    expect(await a.account(sessionId)).toMatchObject({ status: 401, body: { status_code: 3 } })
    expect(await b.account(sessionId)).toMatchObject({ status: 401, body: { status_code: 3 } })
  })

  it('50 concurrent session/new on one approved token, split over both instances, give exactly one session', async () => {
    for (let round = 0; round < 5; round++) {
      const token = await a.approvedToken(seeded.users[1]!)
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).sessionNew(token)))
      expect(
        answers.filter((answer) => answer.status === 200),
        `round ${round}`,
      ).toHaveLength(1)
      for (const loser of answers.filter((answer) => answer.status !== 200)) expect(loser).toMatchObject({ status: 401, body: { status_code: 33 } })
    }
  })
})

describe.skipIf(skipReason !== null)('concurrent start on an empty PostgreSQL database', () => {
  it('three instances starting at once all become ready, and each migration ran exactly once', async () => {
    const database = await freshDatabase()
    const started = await Promise.all([spawn(database), spawn(database), spawn(database)])
    for (const server of started) expect(await request(`${server.url}/readyz`)).toMatchObject({ status: 200, body: { status: 'ok' } })
    const rows = await database.query('SELECT version, count(*) AS n FROM schema_migrations GROUP BY version ORDER BY version')
    expect(rows.map((row) => [Number(row.version), Number(row.n)])).toEqual(POSTGRES_MIGRATIONS.map((migration) => [migration.version, 1]))
    const migrate = await runCli(['migrate', '--database', database.url, '--json'])
    expect(migrate.code, migrate.stderr).toBe(0)
    expect(JSON.parse(migrate.stdout)).toEqual({ database: 'postgres', schema_version: POSTGRES_MIGRATIONS.at(-1)!.version })
    // Each instance serves the same data: an application made through one is known to the others.
    const seeded = await seed(database.url, 1)
    for (const server of started) expect((await new V3(server.url, seeded.apiKey).tokenNew()).status).toBe(200)
  }, 60_000)
})

describe.skipIf(skipReason !== null)('purging on PostgreSQL', () => {
  it('cinepass purge deletes expired rows, and serve sweeps them by itself every CINEPASS_PURGE_INTERVAL seconds', async () => {
    const database = await freshDatabase()
    const seeded = await seed(database.url, 1)
    const expire = (count: number) =>
      database.query(
        `INSERT INTO request_tokens (token_hash, app_id, created_at, expires_at, status)
         SELECT md5(random()::text) || md5(random()::text), $1, 1, 2, 'pending' FROM generate_series(1, ${count})`,
        [seeded.appId],
      )
    const expired = async () => Number((await database.query('SELECT count(*) AS n FROM request_tokens WHERE expires_at <= 2'))[0]!.n)

    await expire(1500)
    const purged = await runCli(['purge', '--database', database.url, '--json'])
    expect(purged.code, purged.stderr).toBe(0)
    expect(JSON.parse(purged.stdout)).toEqual({ deleted: 1500 })
    expect(await expired()).toBe(0)

    const instance = new V3((await spawn(database)).url, seeded.apiKey)
    const live = await instance.tokenNew()
    // A request token is stored once a user approves it: this one, so the sweep has a live row to leave alone.
    expect((await instance.validate(live.body.request_token, seeded.users[0]!.username, seeded.users[0]!.password)).status).toBe(200)
    servers.push(await spawnServer(database.url, { CINEPASS_PURGE_INTERVAL: '1' }))
    await expire(2500)
    await vi.waitFor(async () => expect(await expired()).toBe(0), { timeout: 10_000, interval: 200 })
    // Only dead rows went: the live token made just before is still usable.
    expect(live.status).toBe(200)
    expect(Number((await database.query('SELECT count(*) AS n FROM request_tokens'))[0]!.n)).toBe(1)
  }, 60_000)
})
