import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { performance } from 'node:perf_hooks'
import { Redis } from 'ioredis'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Argon2Hasher, type HashPriority, type PasswordHasher } from '../core/password.js'
import { memoryLimiterBackend, postgresLimiterBackend, redisLimiterBackend, type LimiterBackend } from '../store/limiters.js'
import { call, createTestUser, rawCall, startTestServer, type TestServer } from '../test-support/fixtures.js'
import { WebClient } from '../test-support/web-client.js'

const REDIS_URL = process.env.CINEPASS_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const PG_SERVER = process.env.CINEPASS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432'
const servers: TestServer[] = []

async function server(env: NodeJS.ProcessEnv = {}, overrides: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const started = await startTestServer({ ...overrides, env: { ...env, ...overrides.env } })
  servers.push(started)
  return started
}

beforeEach(() => {
  // Only time is faked: Date (rate-limiter-flexible's clock) and setTimeout, by which its memory store
  // drops a key at the end of its window (on a loaded machine a test can outlast a real second).
  vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] })
  vi.setSystemTime(Date.UTC(2026, 0, 1, 12))
})
afterEach(async () => {
  vi.useRealTimers()
  await Promise.all(servers.splice(0).map((s) => s.stop()))
})

function login(s: TestServer, username: string, password: string, headers: Record<string, string> = {}) {
  return call(`${s.base}/3/authentication/token/validate_with_login?api_key=${s.application.apiKey}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ username, password, request_token: 'a'.repeat(40) }),
  })
}

describe('API rate limit over HTTP', () => {
  it('a flood from one address gets 429/25 with a whole-seconds Retry-After, while another address is served; recovery after the window', async () => {
    const s = await server({ CINEPASS_RATE_LIMIT: '5', CINEPASS_RATE_LIMIT_BURST: '0', CINEPASS_TRUST_PROXY: '127.0.0.1' })
    const url = `${s.base}/3/authentication?api_key=${s.application.apiKey}`
    const flood = { 'x-forwarded-for': '198.51.100.7' }
    const statuses = []
    for (let i = 0; i < 8; i++) statuses.push((await call(url, { headers: flood })).status)
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429])
    const refused = await call(url, { headers: flood })
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toBe('1')
    expect(refused.headers.get('content-type')).toBe('application/json;charset=utf-8')
    expect(refused.text).toBe('{"success":false,"status_code":25,"status_message":"Your request count (9) is over the allowed limit of (5)."}')
    expect((await call(url, { headers: { 'x-forwarded-for': '198.51.100.8' } })).status).toBe(200)
    // Unauthenticated requests count too (the limit runs before the credential check).
    expect((await call(`${s.base}/3/authentication`, { headers: flood })).status).toBe(429)
    vi.advanceTimersByTime(1000)
    expect((await call(url, { headers: flood })).status).toBe(200)
  })

  it('counts every spelling of an API path (//3, /%33, /3//, dot segments) against the one API limit', async () => {
    const s = await server({ CINEPASS_RATE_LIMIT: '4', CINEPASS_RATE_LIMIT_BURST: '0' })
    const spellings = [
      '//3/authentication',
      '/%33/authentication',
      '/3//authentication',
      '/x/../3/authentication',
      '/3/./authentication',
      '/%2e%2e//3/authentication',
    ]
    const statuses = []
    for (const path of spellings) statuses.push((await rawCall(s.base, 'GET', `${path}?api_key=${s.application.apiKey}`)).status)
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429])
    const refused = await rawCall(s.base, 'GET', '/%33/authentication/token/new')
    expect(refused.body.status_code).toBe(25)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
  })

  it('without a trusted proxy, X-Forwarded-For is ignored: 50 spoofed addresses count against the socket address', async () => {
    const s = await server({ CINEPASS_RATE_LIMIT: '10', CINEPASS_RATE_LIMIT_BURST: '0' })
    const url = `${s.base}/3/authentication?api_key=${s.application.apiKey}`
    const statuses = []
    for (let i = 0; i < 50; i++) statuses.push((await call(url, { headers: { 'x-forwarded-for': `10.9.${i}.1` } })).status)
    expect(statuses.filter((status) => status === 200)).toHaveLength(10)
    expect(statuses.filter((status) => status === 429)).toHaveLength(40)
  })

  it('with a trusted proxy, the right-most untrusted hop of X-Forwarded-For is the client', async () => {
    const s = await server({ CINEPASS_RATE_LIMIT: '2', CINEPASS_RATE_LIMIT_BURST: '0', CINEPASS_TRUST_PROXY: '127.0.0.1, 10.0.0.0/8' })
    const url = `${s.base}/3/authentication?api_key=${s.application.apiKey}`
    // The client forged a first hop; the proxies 10.1.1.1 and 127.0.0.1 are trusted; 198.51.100.9 is the client.
    const hops = (forged: string) => ({ 'x-forwarded-for': `${forged}, 198.51.100.9, 10.1.1.1` })
    const statuses = []
    for (let i = 0; i < 4; i++) statuses.push((await call(url, { headers: hops(`203.0.113.${i}`) })).status)
    expect(statuses).toEqual([200, 200, 429, 429])
  })

  it('CINEPASS_RATE_LIMIT=0 turns the API limit off', async () => {
    const s = await server({ CINEPASS_RATE_LIMIT: '0' })
    const url = `${s.base}/3/authentication?api_key=${s.application.apiKey}`
    for (let i = 0; i < 100; i++) expect((await call(url)).status).toBe(200)
  })

  it('guest sessions and request tokens are limited per address by their settings', async () => {
    const s = await server({ CINEPASS_RATE_LIMIT: '1000', CINEPASS_GUEST_SESSION_LIMIT: '3', CINEPASS_REQUEST_TOKEN_LIMIT: '2' })
    const key = s.application.apiKey
    const guests = []
    for (let i = 0; i < 4; i++) guests.push(await call(`${s.base}/3/authentication/guest_session/new?api_key=${key}`))
    expect(guests.map((g) => g.status)).toEqual([200, 200, 200, 429])
    expect(guests[3]?.headers.get('retry-after')).toBe('3600')
    expect(guests[3]?.body).toEqual({ success: false, status_code: 25, status_message: 'Your request count (4) is over the allowed limit of (3).' })
    const tokens = []
    for (let i = 0; i < 2; i++) tokens.push((await call(`${s.base}/3/authentication/token/new?api_key=${key}`)).status)
    const v4 = await call(`${s.base}/4/auth/request_token`, { method: 'POST', headers: { authorization: `Bearer ${s.application.readAccessToken}` } })
    tokens.push(v4.status)
    expect(tokens).toEqual([200, 200, 429])
  })
})

describe('login throttle over HTTP', () => {
  it('stops a guessing run from one address with 429/25 and Retry-After, and the owner signs in from another address', async () => {
    const s = await server({ CINEPASS_TRUST_PROXY: '127.0.0.1' })
    const attacker = { 'x-forwarded-for': '203.0.113.50' }
    for (let i = 0; i < 10; i++) expect((await login(s, s.user.username, `guess${i}`, attacker)).body.status_code).toBe(30)
    const stopped = await login(s, s.user.username, s.user.password, attacker)
    expect(stopped.status).toBe(429)
    expect(stopped.headers.get('retry-after')).toBe('900')
    expect(stopped.body).toEqual({ success: false, status_code: 25, status_message: 'Your request count (11) is over the allowed limit of (10).' })
    const token = (await call(`${s.base}/3/authentication/token/new?api_key=${s.application.apiKey}`)).body.request_token as string
    const owner = await call(`${s.base}/3/authentication/token/validate_with_login?api_key=${s.application.apiKey}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.20' },
      body: JSON.stringify({ username: s.user.username, password: s.user.password, request_token: token }),
    })
    expect(owner.status).toBe(200)
  })

  it('the website sign-in shares the throttle: after 10 failures the form answers 429 with Retry-After', async () => {
    const s = await server({ CINEPASS_RATE_LIMIT: '0' })
    for (let i = 0; i < 10; i++) expect((await login(s, s.user.username, 'wrong')).status).toBe(401)
    const web = new WebClient(s.base)
    const page = await web.signIn({ username: s.user.username, password: s.user.password })
    expect(page.status).toBe(429)
    expect(Number(page.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
  })

  it('the login throttle stays on when CINEPASS_RATE_LIMIT=0', async () => {
    const s = await server({ CINEPASS_RATE_LIMIT: '0' })
    for (let i = 0; i < 10; i++) await login(s, s.user.username, 'wrong')
    expect((await login(s, s.user.username, 'wrong')).status).toBe(429)
  })

  it('an unknown user and a wrong password give byte-identical bodies and the same headers (but Date)', async () => {
    const s = await server({ CINEPASS_RATE_LIMIT: '0' })
    const wrong = await login(s, s.user.username, 'not the password')
    const unknown = await login(s, 'no-such-user-anywhere', 'not the password')
    expect(wrong.status).toBe(401)
    expect(unknown.status).toBe(wrong.status)
    expect(unknown.text).toBe(wrong.text)
    const headers = (h: Headers) => [...h.entries()].filter(([name]) => name !== 'date' && name !== 'x-request-id')
    expect(headers(unknown.headers)).toEqual(headers(wrong.headers))
  })
})

/** The real hasher, counting its calls: how much work a login did. */
class CountingHasher implements PasswordHasher {
  readonly #real = new Argon2Hasher()
  verifies = 0
  dummies = 0
  hash(password: string, priority?: HashPriority): Promise<string> {
    return this.#real.hash(password, priority)
  }
  verify(phc: string, password: string): Promise<boolean> {
    this.verifies += 1
    return this.#real.verify(phc, password)
  }
  verifyDummy(password: string): Promise<void> {
    this.dummies += 1
    return this.#real.verifyDummy(password)
  }
  needsRehash(phc: string): boolean {
    return this.#real.needsRehash(phc)
  }
}

describe('one canonical form of a username over HTTP', () => {
  it('every case spelling of a name shares its account+address throttle: after 10 failures as "kate", "Kate" and "KATE" are refused too', async () => {
    const s = await server({ CINEPASS_TRUST_PROXY: '127.0.0.1' })
    await createTestUser(s.core, { username: 'kate', password: 'kate password 1' })
    const attacker = { 'x-forwarded-for': '203.0.113.60' }
    for (let i = 0; i < 10; i++) expect((await login(s, 'kate', `guess${i}`, attacker)).status).toBe(401)
    for (const spelling of ['Kate', 'KATE', 'kAtE']) expect((await login(s, spelling, 'kate password 1', attacker)).status, spelling).toBe(429)
  })

  it('every case spelling shares the per-account limit: 20 failures as "bob" from 10 addresses, then "BOB" and "Bob" are refused from new ones', async () => {
    const s = await server({ CINEPASS_TRUST_PROXY: '127.0.0.1', CINEPASS_LOGIN_ACCOUNT_FAILURES: '20' })
    await createTestUser(s.core, { username: 'bob', password: 'bob password 1' })
    for (let i = 0; i < 20; i++) expect((await login(s, 'bob', `guess${i}`, { 'x-forwarded-for': `198.51.100.${i % 10}` })).status).toBe(401)
    expect((await login(s, 'BOB', 'guess', { 'x-forwarded-for': '198.51.100.200' })).status).toBe(429)
    expect((await login(s, 'Bob', 'bob password 1', { 'x-forwarded-for': '198.51.100.201' })).status).toBe(429)
  })

  it('a name outside the username rules (the Kelvin sign in "\u212Aate", a space, 65 characters) is an unknown user: 401/30, the same body, one dummy hash', async () => {
    const hasher = new CountingHasher()
    const s = await server({ CINEPASS_RATE_LIMIT: '0' }, { overrides: { hasher } })
    await createTestUser(s.core, { username: 'kate', password: 'kate password 1' })
    // The right password for a real name gets as far as the (made-up) request token: 33, not 30.
    expect((await login(s, 'Kate', 'kate password 1')).body.status_code).toBe(33)
    const unknown = await login(s, 'nobody-by-this-name', 'kate password 1')
    expect(unknown.body.status_code).toBe(30)
    for (const name of ['\u212Aate', '\u212AATE', 'kate ', 'ka te', 'k'.repeat(65), 'kat\u0065\u0301', '_kate']) {
      const before = { verifies: hasher.verifies, dummies: hasher.dummies }
      const refused = await login(s, name, 'kate password 1')
      expect(refused.body.status_code, name).toBe(30)
      expect(refused.text, name).toBe(unknown.text)
      expect({ verifies: hasher.verifies - before.verifies, dummies: hasher.dummies - before.dummies }, name).toEqual({ verifies: 0, dummies: 1 })
    }
    // Uniqueness and the operator's commands use the same form.
    await expect(s.core.admin.createUser({ username: 'KATE', password: 'another password' })).rejects.toThrow('is taken')
    await expect(s.core.admin.createUser({ username: '\u212Aate', password: 'another password' })).rejects.toThrow('the username must be')
    await expect(s.core.admin.setUserDisabled('\u212Aate', true)).rejects.toThrow('no user is named')
    // The website's form says the same as for an unknown user.
    const web = new WebClient(s.base)
    const page = await web.signIn({ username: '\u212Aate', password: 'kate password 1' })
    expect(page.status).toBe(401)
    expect(page.text).toContain('Invalid username or password.')
  })

  it('names outside the rules count against the address like any failed login', async () => {
    const s = await server({ CINEPASS_TRUST_PROXY: '127.0.0.1', CINEPASS_LOGIN_ADDRESS_FAILURES: '20' })
    const from = { 'x-forwarded-for': '203.0.113.61' }
    for (let i = 0; i < 20; i++) expect((await login(s, `not valid ${i}`, 'pw', from)).status).toBe(401)
    expect((await login(s, s.user.username, s.user.password, from)).status).toBe(429)
  })
})

describe('login throttle memory over HTTP', () => {
  /** A server on in-memory counters of at most `maxKeys` windows per limit, with a cheap real hasher. */
  async function memoryServer(maxKeys: number, env: NodeJS.ProcessEnv = {}) {
    const limiters = memoryLimiterBackend({ maxKeys })
    const s = await server(
      { CINEPASS_TRUST_PROXY: '127.0.0.1', ...env },
      { overrides: { limiters, hasher: new Argon2Hasher({ memoryCost: 1024, timeCost: 1 }) } },
    )
    return { s, limiters }
  }

  it('a new username on every attempt from one address keeps no per-name state past the address limit', async () => {
    const { s, limiters } = await memoryServer(100_000)
    // From the socket address (127.0.0.1), so that the website's form below comes from the same one.
    const statuses: number[] = []
    for (let i = 0; i < 400; i++) statuses.push((await login(s, `name${i}`, 'pw')).status)
    expect(statuses.filter((status) => status === 401)).toHaveLength(100)
    expect(statuses.filter((status) => status === 429)).toHaveLength(300)
    // 100 names' account and account+address windows, and the address's own: nothing for the 300 refused.
    expect(limiters.windows()).toBe(201)
    // The website's form is refused before any per-name state too.
    const web = new WebClient(s.base)
    for (let i = 0; i < 20; i++) expect((await web.signIn({ username: `web${i}`, password: 'pw' })).status).toBe(429)
    expect(limiters.windows()).toBe(201)
  })

  it('a bounded stream of distinct names from many addresses never holds more than the bound of windows per limit', async () => {
    const { s, limiters } = await memoryServer(50, { CINEPASS_LOGIN_ADDRESS_FAILURES: '20' })
    for (let address = 0; address < 10; address++) {
      for (let i = 0; i < 25; i++) await login(s, `a${address}n${i}`, 'pw', { 'x-forwarded-for': `198.51.100.${address}` })
    }
    // Three limits hold windows (account, account+address, address): at most 50 each.
    expect(limiters.windows()).toBeLessThanOrEqual(150)
    // The limits still hold for the newest keys: the last address is refused.
    expect((await login(s, s.user.username, s.user.password, { 'x-forwarded-for': '198.51.100.9' })).status).toBe(429)
  })
})

/**
 * Two servers on `backends` (one each): 100 request tokens split over both meet one limit of 30.
 * `database` puts both instances' stores on one database as well, as in a real deployment.
 */
async function expectOneSharedLimit(backends: LimiterBackend[], database?: string): Promise<void> {
  vi.useRealTimers()
  try {
    const env = { CINEPASS_RATE_LIMIT: '1000', CINEPASS_REQUEST_TOKEN_LIMIT: '30', ...(database ? { CINEPASS_DATABASE: database } : {}) }
    const instances = [await server(env, { overrides: { limiters: backends[0]! } }), await server(env, { overrides: { limiters: backends[1]! } })]
    const statuses = await Promise.all(
      Array.from({ length: 100 }, (_, i) => {
        const s = instances[i % 2]!
        return call(`${s.base}/3/authentication/token/new?api_key=${s.application.apiKey}`).then((r) => r.status)
      }),
    )
    expect(statuses.filter((status) => status === 200)).toHaveLength(30)
    expect(statuses.filter((status) => status === 429)).toHaveLength(70)
  } finally {
    await Promise.all(servers.splice(0).map((s) => s.stop()))
    await Promise.all(backends.map((backend) => backend.close()))
  }
}

describe('limits shared through Redis', () => {
  const prefix = `cinepass-test-${process.pid}-${Date.now()}`
  afterEach(async () => {
    const redis = new Redis(REDIS_URL)
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
  })

  it('100 requests split over two instances count against one limit', async () => {
    await expectOneSharedLimit([redisLimiterBackend(REDIS_URL, prefix), redisLimiterBackend(REDIS_URL, prefix)])
  })

  it('with Redis unreachable, the insurance limiter still throttles logins and the API keeps serving', async () => {
    vi.useRealTimers()
    const backend = redisLimiterBackend('redis://127.0.0.1:1', prefix)
    try {
      const s = await server({ CINEPASS_RATE_LIMIT: '40' }, { overrides: { limiters: backend } })
      expect((await call(`${s.base}/3/authentication?api_key=${s.application.apiKey}`)).status).toBe(200)
      const user = await createTestUser(s.core)
      for (let i = 0; i < 10; i++) expect((await login(s, user.username, 'wrong')).status).toBe(401)
      expect((await login(s, user.username, user.password)).status).toBe(429)
    } finally {
      await Promise.all(servers.splice(0).map((s) => s.stop()))
      await backend.close()
    }
  })
})

describe('limits shared through PostgreSQL', () => {
  const database = `cinepass_limits_${process.pid}_${randomBytes(4).toString('hex')}`
  const url = (name: string) => Object.assign(new URL(PG_SERVER), { pathname: `/${name}` }).toString()
  async function admin(sql: string): Promise<void> {
    const client = new pg.Client({ connectionString: url('postgres') })
    await client.connect()
    try {
      await client.query(sql)
    } finally {
      await client.end()
    }
  }
  beforeEach(async () => {
    await admin(`CREATE DATABASE "${database}"`)
  })
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()))
    await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)
  })

  it('100 requests split over two instances on one PostgreSQL database (store and counters) count against one limit', async () => {
    await expectOneSharedLimit(await Promise.all([postgresLimiterBackend(url(database)), postgresLimiterBackend(url(database))]), url(database))
  })

  it('with the limiter table gone, the insurance limiter still throttles logins and the API keeps serving', async () => {
    vi.useRealTimers()
    const backend = await postgresLimiterBackend(url(database))
    try {
      const s = await server({ CINEPASS_RATE_LIMIT: '40' }, { overrides: { limiters: backend } })
      const client = new pg.Client({ connectionString: url(database) })
      await client.connect()
      await client.query('DROP TABLE cinepass_rate_limits')
      await client.end()
      expect((await call(`${s.base}/3/authentication?api_key=${s.application.apiKey}`)).status).toBe(200)
      for (let i = 0; i < 10; i++) expect((await login(s, s.user.username, 'wrong')).status).toBe(401)
      expect((await login(s, s.user.username, s.user.password)).status).toBe(429)
    } finally {
      await Promise.all(servers.splice(0).map((s) => s.stop()))
      await backend.close()
    }
  })
})

describe('slow clients', () => {
  /** Sends `bytes` and then nothing; resolves with what came back and when the server closed. */
  function sendAndStall(s: TestServer, bytes: string): Promise<{ closedAfterMs: number | null; response: string }> {
    const { hostname, port } = new URL(s.base)
    return new Promise((resolve, reject) => {
      const started = performance.now()
      const socket = connect(Number(port), hostname)
      const chunks: Buffer[] = []
      socket.on('data', (chunk) => chunks.push(chunk))
      socket.on('error', reject)
      // A socket timer (not the faked global setTimeout): a server that never closes fails the test.
      socket.setTimeout(10_000, () => {
        socket.destroy()
        resolve({ closedAfterMs: null, response: Buffer.concat(chunks).toString() })
      })
      socket.on('close', () => resolve({ closedAfterMs: performance.now() - started, response: Buffer.concat(chunks).toString() }))
      socket.write(bytes)
    })
  }

  it('a request whose body never arrives in full, or whose headers never end, is closed after CINEPASS_REQUEST_TIMEOUT', async () => {
    const s = await server({ CINEPASS_REQUEST_TIMEOUT: '1' })
    const target = `/3/authentication/session/new?api_key=${s.application.apiKey}`
    const [body, headers] = await Promise.all([
      sendAndStall(s, `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{"a":`),
      sendAndStall(s, `GET ${target} HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n`),
    ])
    for (const stalled of [body, headers]) {
      expect(stalled.closedAfterMs).not.toBeNull()
      expect(stalled.closedAfterMs!).toBeGreaterThanOrEqual(900)
      expect(stalled.closedAfterMs!).toBeLessThan(5000)
      // Answered in TMDB's format when anything is answered at all, never with a bare status line.
      if (stalled.response !== '') expect(stalled.response).toMatch(/^HTTP\/1\.1 400 [^]*\r\n\r\n\{"success":false,"status_code":47,/)
    }
  })
})
