import { afterEach, describe, expect, it } from 'vitest'
import { Argon2Hasher, type HashPriority } from '../core/password.js'
import { createTestUser, startTestServer, type TestServer } from '../test-support/fixtures.js'
import { WebClient, csrfOf } from '../test-support/web-client.js'

const servers: TestServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()))
})

async function server(env: NodeJS.ProcessEnv = {}, hasher?: Argon2Hasher): Promise<TestServer> {
  // The website's per-address limits are request limits: on unless CINEPASS_RATE_LIMIT is 0.
  const started = await startTestServer({
    env: { CINEPASS_RATE_LIMIT: '1000', CINEPASS_TRUST_PROXY: '127.0.0.1', ...env },
    ...(hasher ? { overrides: { hasher } } : {}),
  })
  servers.push(started)
  return started
}

/** A browser's form session: its cookies and one CSRF token, to post from any address. */
async function formSession(s: TestServer): Promise<{ post: (path: string, form: Record<string, string>, address: string) => Promise<Response> }> {
  const web = new WebClient(s.base)
  const csrf = csrfOf((await web.get('/signup')).text)
  const cookie = [...web.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  return {
    post: (path, form, address) =>
      fetch(`${s.base}${path}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, 'x-forwarded-for': address },
        body: new URLSearchParams({ _csrf: csrf, ...form }).toString(),
      }),
  }
}

/** The real hasher, counting the hashes it makes. */
class CountingHasher extends Argon2Hasher {
  hashes = 0
  override async hash(password: string, priority?: HashPriority): Promise<string> {
    this.hashes += 1
    return super.hash(password, priority)
  }
}

/**
 * 100 sign-ups at once (the i-th from `addressOf(i)`), and 200 ms into them 15 users post the login
 * forms they opened before; the statuses of both.
 */
async function signUpFloodDuringLogins(s: TestServer, addressOf: (i: number) => string): Promise<{ floodStatuses: number[]; loginStatuses: number[] }> {
  const form = await formSession(s)
  const users = await Promise.all(
    Array.from({ length: 15 }, async () => {
      const web = new WebClient(s.base)
      return { web, user: await createTestUser(s.core), csrf: csrfOf((await web.get('/login')).text) }
    }),
  )
  const flood = Promise.all(
    Array.from({ length: 100 }, (_, i) => form.post('/signup', { username: `bot${i}`, password: 'a long password' }, addressOf(i)).then((r) => r.status)),
  )
  await new Promise((resolve) => setTimeout(resolve, 200))
  const logins = Promise.all(
    users.map(async ({ web, user, csrf }) => (await web.post('/login', { _csrf: csrf, username: user.username, password: user.password })).status),
  )
  const [floodStatuses, loginStatuses] = await Promise.all([flood, logins])
  return { floodStatuses, loginStatuses }
}

describe('the website per address over HTTP', () => {
  it('sign-ups are limited per address and hour (CINEPASS_SIGNUP_LIMIT): one CSRF token reused does not make an account per post', async () => {
    const s = await server({ CINEPASS_SIGNUP_LIMIT: '3' })
    const form = await formSession(s)
    const statuses = []
    for (let i = 0; i < 6; i++) statuses.push((await form.post('/signup', { username: `flood${i}`, password: 'a long password' }, '203.0.113.30')).status)
    expect(statuses).toEqual([303, 303, 303, 429, 429, 429])
    const refused = await form.post('/signup', { username: 'flood9', password: 'a long password' }, '203.0.113.30')
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(3000)
    expect(await refused.text()).toContain('Too many attempts')
    expect(await s.store.findAccountByUsername('flood3')).toBeNull()
    // Another address still signs up.
    expect((await form.post('/signup', { username: 'elsewhere', password: 'a long password' }, '198.51.100.30')).status).toBe(303)
  })

  it('POST /login, /signup and /logout share a per-address limit per minute (CINEPASS_WEB_FORM_LIMIT)', async () => {
    const s = await server({ CINEPASS_WEB_FORM_LIMIT: '5' })
    const form = await formSession(s)
    const address = '203.0.113.31'
    const statuses = []
    for (let i = 0; i < 2; i++) statuses.push((await form.post('/login', { username: s.user.username, password: 'wrong' }, address)).status)
    statuses.push((await form.post('/signup', { username: 'formuser', password: 'short' }, address)).status)
    statuses.push((await form.post('/logout', {}, address)).status)
    statuses.push((await form.post('/login', { username: s.user.username, password: 'wrong' }, address)).status)
    statuses.push((await form.post('/login', { username: s.user.username, password: s.user.password }, address)).status)
    statuses.push((await form.post('/logout', {}, address)).status)
    expect(statuses).toEqual([401, 401, 400, 303, 401, 429, 429])
    expect((await form.post('/login', { username: s.user.username, password: s.user.password }, '198.51.100.31')).status).toBe(303)
  })

  it("the account pages' form posts count against the same per-address limit (CINEPASS_WEB_FORM_LIMIT)", async () => {
    const s = await server({ CINEPASS_WEB_FORM_LIMIT: '3' })
    const web = new WebClient(s.base)
    expect((await web.post('/login', { _csrf: csrfOf((await web.get('/login')).text), username: s.user.username, password: s.user.password })).status).toBe(303)
    const csrf = csrfOf((await web.get('/account')).text)
    const cookie = [...web.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
    const post = (path: string, form: Record<string, string>, address: string): Promise<Response> =>
      fetch(`${s.base}${path}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, 'x-forwarded-for': address },
        body: new URLSearchParams({ _csrf: csrf, ...form }).toString(),
      })
    const address = '203.0.113.33'
    const statuses = []
    for (let i = 0; i < 3; i++) statuses.push((await post('/account/name', { name: `Name ${i}` }, address)).status)
    statuses.push((await post('/account/name', { name: 'Too many' }, address)).status)
    statuses.push((await post('/account/reset', { token: 'f'.repeat(40), new_password: 'a long password' }, address)).status)
    expect(statuses).toEqual([303, 303, 303, 429, 429])
    expect((await s.store.findAccountByUsername(s.user.username))?.name).toBe('Name 2')
    expect((await post('/account/name', { name: 'Elsewhere' }, '198.51.100.33')).status).toBe(303)
  })

  it('"username is taken" costs a password hash, like a free name, and counts like a failed login', async () => {
    const hasher = new CountingHasher()
    const s = await server({}, hasher)
    await createTestUser(s.core, { username: 'kate', password: 'kate password 1' })
    const form = await formSession(s)
    const address = '203.0.113.32'
    const before = hasher.hashes
    const taken = await form.post('/signup', { username: 'Kate', password: 'a long password' }, address)
    expect(taken.status).toBe(400)
    expect(await taken.text()).toContain('is taken')
    expect(hasher.hashes - before).toBe(1)
    // Nine more probes of the name from that address, and its account+address pair is spent, as after 10 wrong passwords.
    for (let i = 0; i < 9; i++) expect((await form.post('/signup', { username: 'kate', password: 'a long password' }, address)).status).toBe(400)
    const web = await form.post('/login', { username: 'kate', password: 'kate password 1' }, address)
    expect(web.status).toBe(429)
    expect((await form.post('/signup', { username: 'KATE', password: 'a long password' }, address)).status).toBe(429)
  })

  it('a sign-up flood from one address does not starve real logins into 503', { timeout: 60_000 }, async () => {
    const s = await server({ CINEPASS_SIGNUP_LIMIT: '10' })
    const { floodStatuses, loginStatuses } = await signUpFloodDuringLogins(s, () => '203.0.113.33')
    expect(loginStatuses, JSON.stringify(loginStatuses)).toEqual(Array(15).fill(303))
    expect(floodStatuses.filter((status) => status === 303).length).toBeLessThanOrEqual(10)
    expect(floodStatuses.filter((status) => status === 503)).toHaveLength(0)
  })

  it('a sign-up flood from 100 addresses leaves logins half of the hashing queue: they are not refused with 503', { timeout: 60_000 }, async () => {
    const s = await server()
    const { floodStatuses, loginStatuses } = await signUpFloodDuringLogins(s, (i) => `198.18.${i}.1`)
    expect(loginStatuses, JSON.stringify(loginStatuses)).toEqual(Array(15).fill(303))
    // The sign-ups past their half of the queue were refused quickly instead.
    expect(floodStatuses.filter((status) => status === 503).length).toBeGreaterThan(0)
  })
})
