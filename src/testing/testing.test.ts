import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SqliteStore } from '../store/sqlite/sqlite-store.js'
import { temporaryDirectory } from '../test-support/fixtures.js'
import { FixtureError, startTestServer, type TestServer } from './index.js'

const KEY = '0123456789abcdef0123456789abcdef'
const FIXTURES = {
  apps: [{ name: 'Fixed app', api_key: KEY, redirect_origins: ['https://app.example'] }, { name: 'Second app' }],
  users: [
    { username: 'alice', password: 'alice-pw', name: 'Alice' },
    { username: 'bob', password: 'bob-password' },
    { username: 'carol', password: 'carol-pw', disabled: true },
  ],
}

async function api(cp: TestServer, method: string, path: string, body?: object, bearer?: string): Promise<{ status: number; headers: Headers; body: any }> {
  const url = bearer ? `${cp.url}${path}` : `${cp.url}${path}${path.includes('?') ? '&' : '?'}api_key=${cp.apiKey}`
  const response = await fetch(url, {
    method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  })
  return { status: response.status, headers: response.headers, body: await response.json() }
}

async function newToken(cp: TestServer): Promise<string> {
  return (await api(cp, 'GET', '/3/authentication/token/new')).body.request_token
}

let cp: TestServer
beforeAll(async () => {
  cp = await startTestServer({ fixtures: FIXTURES })
})
afterAll(() => (cp as TestServer | undefined)?.close()) // undefined when beforeAll failed before assigning it

describe('startTestServer()', () => {
  it("listens on 127.0.0.1 with the fixtures' fixed API key, and generates what is not given", async () => {
    expect(cp.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(cp.apiKey).toBe(KEY)
    expect(cp.apps.map((app) => app.name)).toEqual(['Fixed app', 'Second app'])
    expect(cp.apps[1]!.apiKey).toMatch(/^[0-9a-f]{32}$/)
    expect((await api(cp, 'GET', '/3/authentication')).body).toEqual({ success: true, status_code: 1, status_message: 'Success.' })
    expect((await api(cp, 'GET', '/3/authentication', undefined, cp.readAccessToken)).status).toBe(200)
    expect((await fetch(`${cp.url}/readyz`)).status).toBe(200)
  })

  it('returns the users as given, with their ids, and never a password hash', () => {
    expect(cp.users.map(({ username, password, name, disabled }) => ({ username, password, name, disabled }))).toEqual([
      { username: 'alice', password: 'alice-pw', name: 'Alice', disabled: false },
      { username: 'bob', password: 'bob-password', name: '', disabled: false },
      { username: 'carol', password: 'carol-pw', name: '', disabled: true },
    ])
    expect(JSON.stringify(cp.users)).not.toMatch(/argon2|passwordHash/i)
    expect(cp.users[0]!.accountObjectId).toMatch(/^[0-9a-f]{24}$/)
  })

  it("logs the fixtures' users in with validate_with_login, and refuses the disabled one (31)", async () => {
    const token = await newToken(cp)
    expect(
      (await api(cp, 'POST', '/3/authentication/token/validate_with_login', { username: 'bob', password: 'bob-password', request_token: token })).status,
    ).toBe(200)
    const session = (await api(cp, 'POST', '/3/authentication/session/new', { request_token: token })).body.session_id
    expect((await api(cp, 'GET', `/3/account?session_id=${session}`)).body).toMatchObject({ id: cp.users[1]!.id, username: 'bob' })
    const refused = await api(cp, 'POST', '/3/authentication/token/validate_with_login', {
      username: 'carol',
      password: 'carol-pw',
      request_token: await newToken(cp),
    })
    expect(refused.body.status_code).toBe(31)
  })

  it('approve() approves a v3 request token as the first user, or as the one named, without a browser', async () => {
    const first = await newToken(cp)
    await cp.approve(first)
    const session = (await api(cp, 'POST', '/3/authentication/session/new', { request_token: first })).body.session_id
    expect((await api(cp, 'GET', `/3/account?session_id=${session}`)).body.username).toBe('alice')
    const second = await newToken(cp)
    await cp.approve(second, 'bob')
    const bobs = (await api(cp, 'POST', '/3/authentication/session/new', { request_token: second })).body.session_id
    expect((await api(cp, 'GET', `/3/account?session_id=${bobs}`)).body.username).toBe('bob')
  })

  it('approve() refuses an unknown user, a disabled user and a used token, saying why', async () => {
    const token = await newToken(cp)
    await expect(cp.approve(token, 'nobody')).rejects.toThrow('no user is named "nobody"')
    await expect(cp.approve(token, 'carol')).rejects.toThrow('disabled')
    await cp.approve(token)
    await api(cp, 'POST', '/3/authentication/session/new', { request_token: token })
    await expect(cp.approve(token)).rejects.toThrow('the request token is unknown, expired, already used or decided')
    await expect(cp.approve('not a token')).rejects.toThrow('unknown')
  })

  it('deny() makes session/new answer 401/17', async () => {
    const token = await newToken(cp)
    await cp.deny(token)
    const refused = await api(cp, 'POST', '/3/authentication/session/new', { request_token: token })
    expect(refused.status).toBe(401)
    expect(refused.body).toMatchObject({ success: false, failure: true, status_code: 17 })
  })

  it('approve() and deny() take v4 request tokens', async () => {
    const approved = (await api(cp, 'POST', '/4/auth/request_token', {}, cp.readAccessToken)).body.request_token
    await cp.approve(approved, 'bob')
    const access = await api(cp, 'POST', '/4/auth/access_token', { request_token: approved }, cp.readAccessToken)
    expect(access.status).toBe(200)
    expect(access.body.account_id).toBe(cp.users[1]!.accountObjectId)
    const denied = (await api(cp, 'POST', '/4/auth/request_token', {}, cp.readAccessToken)).body.request_token
    await cp.deny(denied)
    // A denied v4 token is never approved (422/41), and cannot be approved afterwards.
    expect((await api(cp, 'POST', '/4/auth/access_token', { request_token: denied }, cp.readAccessToken)).body.status_code).toBe(41)
    await expect(cp.approve(denied)).rejects.toThrow('decided')
  })

  it('clock.advance() expires request tokens without waiting', async () => {
    await using own = await startTestServer()
    const token = (await api(own, 'GET', '/3/authentication/token/new')).body.request_token
    own.clock.advance(59 * 60 * 1000)
    await own.approve(token)
    own.clock.advance(2 * 60 * 1000)
    expect((await api(own, 'POST', '/3/authentication/session/new', { request_token: token })).body.status_code).toBe(33)
    expect(() => own.clock.advance(-1)).toThrow(RangeError)
  })

  it('failNext() answers the next matching requests with the TMDB error, then serves again', async () => {
    cp.failNext({ path: '/3/authentication/token/new', status: 429, code: 25, times: 2 })
    for (let i = 0; i < 2; i++) {
      const limited = await api(cp, 'GET', '/3/authentication/token/new')
      expect(limited.status).toBe(429)
      expect(limited.headers.get('retry-after')).toBe('1')
      expect(limited.headers.get('content-type')).toBe('application/json;charset=utf-8')
      expect(limited.body).toEqual({ success: false, status_code: 25, status_message: 'Your request count (#) is over the allowed limit of (40).' })
    }
    expect((await api(cp, 'GET', '/3/authentication/token/new')).status).toBe(200)
    cp.failNext({ path: /^\/3\/authentication\/session/, method: 'post', status: 503, code: 9, retryAfter: 5 })
    expect((await api(cp, 'GET', '/3/authentication')).status).toBe(200)
    const offline = await api(cp, 'POST', '/3/authentication/session/new', { request_token: 'x' })
    expect([offline.status, offline.body.status_code, offline.headers.get('retry-after')]).toEqual([503, 9, '5'])
    // Before the credential check: even a valid key is refused.
    cp.failNext({ path: '/3/authentication', status: 401, code: 7 })
    expect((await api(cp, 'GET', '/3/authentication')).body).toEqual({
      success: false,
      status_code: 7,
      status_message: 'Invalid API key: You must be granted a valid key.',
    })
    expect((await api(cp, 'GET', '/3/authentication')).status).toBe(200)
  })

  it('failNext() refuses a bad failure, naming the field', () => {
    expect(() => cp.failNext({ path: '/3/authentication', status: 200, code: 7 })).toThrow('status')
    expect(() => cp.failNext({ path: '/3/authentication', status: 400, code: 999 })).toThrow('give a message')
    expect(() => cp.failNext({ path: '/3/authentication', status: 401, code: 7, times: 0 })).toThrow('times')
  })

  it('runs several servers in one process that share no state', async () => {
    await using other = await startTestServer({ fixtures: FIXTURES })
    expect(other.url).not.toBe(cp.url)
    const token = await newToken(cp)
    // The same fixed key is valid on both, but a token of one server is unknown to the other.
    await expect(other.approve(token)).rejects.toThrow('unknown')
    expect((await api(other, 'GET', '/3/authentication', undefined, cp.readAccessToken)).status).toBe(401)
    expect(other.apps[1]!.apiKey).not.toBe(cp.apps[1]!.apiKey)
    other.failNext({ path: '/3/authentication', status: 503, code: 9 })
    expect((await api(cp, 'GET', '/3/authentication')).status).toBe(200)
  })

  it('accepts a read access token given in the fixtures as is, for its API key', async () => {
    await using other = await startTestServer({ fixtures: { apps: [{ name: 'Fixed app', api_key: KEY, read_access_token: cp.readAccessToken }] } })
    expect(other.readAccessToken).toBe(cp.readAccessToken)
    expect(other.apps[0]!.id).toBe(cp.apps[0]!.id)
    expect((await api(other, 'GET', '/3/authentication', undefined, cp.readAccessToken)).status).toBe(200)
    const v4 = await api(other, 'POST', '/4/auth/request_token', {}, cp.readAccessToken)
    expect(v4.status).toBe(200)
    // Still a read access token: it cannot be converted into a session (36).
    expect((await api(other, 'POST', '/3/authentication/session/convert/4', { access_token: cp.readAccessToken })).body.status_code).toBe(36)
  })

  it('reads fixtures from a JSON file, and refuses bad ones with one error naming the field', async () => {
    const dir = temporaryDirectory()
    try {
      const file = join(dir.path, 'fixtures.json')
      writeFileSync(file, JSON.stringify({ apps: [{ name: 'From file', api_key: KEY }], users: [{ username: 'dave', password: 'pw-password' }] }))
      await using fromFile = await startTestServer({ fixtures: file })
      expect([fromFile.apiKey, fromFile.users[0]!.username]).toEqual([KEY, 'dave'])
      writeFileSync(file, JSON.stringify({ apps: [{ name: 'x', api_key: 'ABC' }] }))
      await expect(startTestServer({ fixtures: file })).rejects.toThrow(`${file}: apps[0].api_key: must be 32 lowercase hex characters`)
      writeFileSync(file, '{"apps": [')
      await expect(startTestServer({ fixtures: file })).rejects.toThrow(`${file}: not valid JSON`)
      await expect(startTestServer({ fixtures: join(dir.path, 'missing.json') })).rejects.toThrow('cannot be read (ENOENT)')
    } finally {
      dir.remove()
    }
    const bad = startTestServer({ fixtures: { apps: [{ name: 'a' }], users: [{ username: 'eve', password: '' }] } })
    await expect(bad).rejects.toBeInstanceOf(FixtureError)
    await expect(bad).rejects.toThrow('fixtures: users[0].password: must be a string of 8 to 1024 characters')
  })

  it('gives fixtures without applications the default one, and without fixtures a user too', async () => {
    await using usersOnly = await startTestServer({ fixtures: { users: [{ username: 'solo', password: 'pw-password' }] } })
    expect(usersOnly.apps.map((app) => app.name)).toEqual(['Test app'])
    expect(usersOnly.users.map((user) => user.username)).toEqual(['solo'])
    await using defaults = await startTestServer()
    expect(defaults.users.map(({ username, password }) => ({ username, password }))).toEqual([{ username: 'tester', password: 'tester-password' }])
    const token = await newToken(defaults)
    await defaults.approve(token)
    expect((await api(defaults, 'POST', '/3/authentication/session/new', { request_token: token })).status).toBe(200)
  })

  it('keeps its data in a database file when given one: a second server on it finds the fixtures and the sessions', async () => {
    const dir = temporaryDirectory()
    try {
      const database = join(dir.path, 'kit.db')
      const first = await startTestServer({ database, fixtures: FIXTURES })
      const token = await newToken(first)
      await first.approve(token)
      const session = (await api(first, 'POST', '/3/authentication/session/new', { request_token: token })).body.session_id
      await first.close()
      await using second = await startTestServer({ database, fixtures: { ...FIXTURES, apps: [FIXTURES.apps[0]!] } })
      expect(second.apps[0]!.id).toBe(first.apps[0]!.id)
      expect((await api(second, 'GET', `/3/account?session_id=${session}`)).body.username).toBe('alice')
      // The second application's generated key is stored only as a hash: the fixtures must give it.
      await expect(startTestServer({ database, fixtures: FIXTURES })).rejects.toThrow('startTestServer: apps[1] already exists in')
      // Test-only hashing: the weakest argon2id settings.
      const store = SqliteStore.open(database)
      expect((await store.findAccountByUsername('alice'))!.passwordHash).toMatch(/^\$argon2id\$v=19\$m=8,t=1,p=1\$/)
      await store.close()
    } finally {
      dir.remove()
    }
  })
})
