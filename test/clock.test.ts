import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config/config.js'
import { ManualClock, SteadyClock, type Clock } from '../src/core/clock.js'
import { startServer, type RunningServer } from '../src/server.js'
import { createBackend, seed, type Seeded, type TestBackend } from './support/backends.js'
import { V3 } from './support/flow.js'

const MINUTE = 60_000
const running: RunningServer[] = []
const backends: TestBackend[] = []
afterEach(async () => {
  for (const server of running.splice(0)) await server.close()
  for (const backend of backends.splice(0)) await backend.remove()
})

/** A cinepass instance in this process with its own clock, over real HTTP on 127.0.0.1. */
async function instance(database: string, clock: Clock, seeded: Seeded): Promise<V3> {
  const config = loadConfig({ CINEPASS_DATABASE: database, CINEPASS_PORT: '0', NODE_ENV: 'production', CINEPASS_SESSION_TTL: '3600', CINEPASS_RATE_LIMIT: '0' })
  const server = await startServer(config, { overrides: { clock } })
  running.push(server)
  return new V3(server.url, seeded.apiKey)
}

async function setup(): Promise<{ backend: TestBackend; seeded: Seeded }> {
  const backend = await createBackend('sqlite')
  backends.push(backend)
  return { backend, seeded: await seed(backend.database, 1) }
}

describe('time: which clock decides expiry', () => {
  it('each instance decides by its own clock against the expiry stamped at creation, so two instances differ by exactly their skew', async () => {
    const { backend, seeded } = await setup()
    const user = seeded.users[0]!
    const trueStart = Date.UTC(2026, 5, 1, 12)
    // Instance A runs 5 minutes fast, B 5 minutes slow: 10 minutes of skew.
    const fast = new ManualClock(trueStart + 5 * MINUTE)
    const slow = new ManualClock(trueStart - 5 * MINUTE)
    const a = await instance(backend.database, fast, seeded)
    const b = await instance(backend.database, slow, seeded)
    const pass = (ms: number): void => {
      fast.advance(ms)
      slow.advance(ms)
    }

    // Tokens made on A carry A's expiry: A's now + 60 minutes, whoever checks them later.
    const tokens = await Promise.all([1, 2, 3, 4].map(() => a.approvedToken(user)))
    const expiresAt = Date.parse((await a.tokenNew()).body.expires_at.replace(' UTC', 'Z'))
    expect(expiresAt).toBe(trueStart + 65 * MINUTE)

    pass(59 * MINUTE + 59_000) // A: 1 s before the expiry
    expect((await a.sessionNew(tokens[0]!)).status).toBe(200)
    pass(1000) // A: exactly at the expiry; B still 10 minutes before it
    expect(await a.sessionNew(tokens[1]!)).toMatchObject({ status: 401, body: { status_code: 33 } })
    const onB = await b.sessionNew(tokens[1]!)
    expect(onB.status).toBe(200)
    pass(10 * MINUTE - 1000) // B: 1 s before the expiry
    expect((await b.sessionNew(tokens[2]!)).status).toBe(200)
    pass(1000) // B: at the expiry; now every instance refuses
    expect(await b.sessionNew(tokens[3]!)).toMatchObject({ status: 401, body: { status_code: 33 } })
    expect(await a.sessionNew(tokens[3]!)).toMatchObject({ status: 401, body: { status_code: 33 } })
    expect(await backend.query('SELECT count(*) AS n FROM sessions')).toEqual([{ n: 3 }])

    // Sessions (CINEPASS_SESSION_TTL=3600) follow the same rule: B made this one at its now (T+55 min),
    // so it ends at T+115 min. At this point A reads T+75 min and B T+65 min.
    const session = onB.body.session_id as string
    pass(40 * MINUTE - 1000) // A: 1 s before the session's end
    expect((await a.account(session)).status).toBe(200)
    expect((await b.account(session)).status).toBe(200)
    pass(1000) // A: at the end; B: 10 minutes before it
    expect(await a.account(session)).toMatchObject({ status: 401, body: { status_code: 3 } })
    expect((await b.account(session)).status).toBe(200)
    pass(10 * MINUTE - 1000)
    expect((await b.account(session)).status).toBe(200)
    pass(1000)
    expect(await b.account(session)).toMatchObject({ status: 401, body: { status_code: 3 } })
  })

  it('a wall clock stepping back an hour extends no request token or session lifetime', async () => {
    const { backend, seeded } = await setup()
    const user = seeded.users[0]!
    const wall = { t: Date.UTC(2026, 5, 1, 12) }
    const mono = { t: 0 }
    const v3 = await instance(
      backend.database,
      new SteadyClock(
        () => wall.t,
        () => mono.t,
      ),
      seeded,
    )
    const pass = (ms: number): void => {
      wall.t += ms
      mono.t += ms
    }
    const tokens = await Promise.all([1, 2].map(() => v3.approvedToken(user)))
    const session = (await v3.sessionNew(tokens[0]!)).body.session_id as string

    pass(30 * MINUTE)
    wall.t -= 60 * MINUTE // an NTP step: the wall clock now reads 30 minutes before the token was made
    pass(29 * MINUTE + 59_000)
    expect((await v3.account(session)).status).toBe(200)
    pass(1000) // 60 minutes of real time: the token's and the session's lifetimes are over
    expect(await v3.sessionNew(tokens[1]!)).toMatchObject({ status: 401, body: { status_code: 33 } })
    expect(await v3.account(session)).toMatchObject({ status: 401, body: { status_code: 3 } })
  })
})
