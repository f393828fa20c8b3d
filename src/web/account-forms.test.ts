import { Writable } from 'node:stream'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, createTestUser, loginOverHttp, startTestServer, testBackends, type TestServer, type TestUser } from '../test-support/fixtures.js'
import { loadConfig } from '../config/config.js'
import { openStore } from '../server.js'
import { WebClient, csrfOf } from '../test-support/web-client.js'
import { SESSION_COOKIE } from './common.js'
import { waitText } from './website.js'

describe.each(await testBackends('account forms'))('the account forms over HTTP on %s', (backend) => {
  let server: TestServer
  const logLines: string[] = []

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(chunk.toString())
        done()
      },
    })
    server = await startTestServer({ env: { CINEPASS_SIGNUP: 'open' }, backend, logger: pino({ level: 'info' }, sink) })
  })
  afterAll(async () => {
    await (server as TestServer | undefined)?.stop() // undefined when beforeAll failed before assigning it
  })

  const signedIn = async (user: TestUser): Promise<WebClient> => {
    const web = new WebClient(server.base)
    expect((await web.signIn(user, '/account')).status).toBe(303)
    return web
  }
  const securityEvents = (event: string): Record<string, unknown>[] =>
    logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.securityEvent === event)
  const sessionWorks = async (sessionId: string): Promise<boolean> =>
    (await call(`${server.base}/3/account?api_key=${server.application.apiKey}&session_id=${sessionId}`)).status === 200

  it('every account form refuses a post without a valid CSRF token and changes nothing', async () => {
    const user = await createTestUser(server.core)
    const session = await loginOverHttp(server, user)
    const web = await signedIn(user)
    const page = await web.get('/account')
    const ref = /name="ref" value="([0-9a-f]+)"/.exec(page.text)![1]!
    const forged = 'f'.repeat(52)
    const forms: [string, Record<string, string>][] = [
      ['/account/password', { current_password: user.password, new_password: 'changed by a forger' }],
      ['/account/name', { name: 'Forged' }],
      ['/account/revoke', { ref }],
      ['/account/logout-everywhere', {}],
      ['/account/reset', { token: '0'.repeat(40), new_password: 'changed by a forger' }],
    ]
    for (const [path, form] of forms) {
      for (const csrf of [{}, { _csrf: forged }] as Record<string, string>[]) {
        const response = await web.post(path, { ...csrf, ...form })
        expect(response.status, path).toBe(403)
        expect(response.text, path).toContain('Form expired')
      }
    }
    expect(await sessionWorks(session)).toBe(true)
    const account = await server.core.deps.store.findAccountById(user.id)
    expect(account?.name).toBe(user.username.replace(/^user(\d+)_.*$/, 'User $1'))
    await expect(server.core.auth.verifyLogin(user.username, user.password)).resolves.toMatchObject({ id: user.id })
    expect((await web.get('/account')).status).toBe(200)
  })

  it('GET /account and its forms send a logged-out visitor to the log-in form', async () => {
    const web = new WebClient(server.base)
    const account = await web.get('/account')
    expect(account.status).toBe(303)
    expect(account.headers.get('location')).toBe('/login?next=%2Faccount')
    const login = await web.get('/login')
    const posted = await web.post('/account/logout-everywhere', { _csrf: csrfOf(login.text) })
    expect(posted.status).toBe(303)
    expect(posted.headers.get('location')).toBe('/login?next=%2Faccount')
  })

  it('a Revoke naming a credential of another account ends nothing', async () => {
    const victim = await createTestUser(server.core)
    const victimSession = await loginOverHttp(server, victim)
    const victimPage = await (await signedIn(victim)).get('/account')
    const victimRefs = [...victimPage.text.matchAll(/name="ref" value="([0-9a-f]+)"/g)].map((match) => match[1]!)
    const attacker = await signedIn(await createTestUser(server.core))
    const page = await attacker.get('/account')
    for (const ref of victimRefs) expect((await attacker.post('/account/revoke', { _csrf: csrfOf(page.text), ref })).headers.get('location')).toBe('/account')
    expect(await sessionWorks(victimSession)).toBe(true)
  })

  it('the display name is set on the account page and at sign-up, and /3/account returns it', async () => {
    const web = await signedIn(await createTestUser(server.core))
    const page = await web.get('/account')
    expect((await web.post('/account/name', { _csrf: csrfOf(page.text), name: '  Ada Lovelace ' })).headers.get('location')).toBe('/account?done=name')
    expect((await web.get('/account?done=name')).text).toContain('value="Ada Lovelace"')
    const tooLong = await web.post('/account/name', { _csrf: csrfOf(page.text), name: 'x'.repeat(101) })
    expect(tooLong.status).toBe(400)
    expect(tooLong.text).toContain('aria-invalid="true"')

    const newcomer = new WebClient(server.base)
    const form = await newcomer.get('/signup')
    expect(form.text).toContain('Display name (optional)')
    expect(form.text).toContain('8 to 1024 characters')
    await newcomer.post('/signup', { _csrf: csrfOf(form.text), username: 'named_newcomer', password: 'a long password', name: 'Grace Hopper', next: '/' })
    const account = await server.core.deps.store.findAccountByUsername('named_newcomer')
    expect(account?.name).toBe('Grace Hopper')
    const session = await loginOverHttp(server, { id: account!.id, username: 'named_newcomer', password: 'a long password' })
    expect((await call(`${server.base}/3/account?api_key=${server.application.apiKey}&session_id=${session}`)).body.name).toBe('Grace Hopper')
  })

  it('a reset link is used once, even by racing form posts; the others get the 410 page', async () => {
    const user = await createTestUser(server.core)
    const { token } = await server.core.account.createResetToken(user.username)
    const clients = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const web = new WebClient(server.base)
        const page = await web.get(`/account/reset?token=${token}`)
        expect(page.status).toBe(200)
        return { web, csrf: csrfOf(page.text) }
      }),
    )
    const answers = await Promise.all(
      clients.map(({ web, csrf }, i) => web.post('/account/reset', { _csrf: csrf, token, new_password: `racing password ${i}` })),
    )
    const winners = answers.flatMap((answer, i) => (answer.status === 200 ? [i] : []))
    expect(winners).toHaveLength(1)
    expect(answers.filter((answer) => answer.status === 410)).toHaveLength(answers.length - 1)
    await expect(server.core.auth.verifyLogin(user.username, `racing password ${winners[0]}`)).resolves.toMatchObject({ id: user.id })
    expect((await new WebClient(server.base).get(`/account/reset?token=${token}`)).status).toBe(410)
    expect(securityEvents('password_reset').filter((event) => event.accountId === user.id)).toHaveLength(1)
    // The token rides in the query, which every log line redacts.
    expect(logLines.join('\n')).not.toContain(token)
  })

  it('a wrong current password counts like a failed log-in: the throttle answers 429 saying how long to wait', async () => {
    const user = await createTestUser(server.core)
    const web = await signedIn(user)
    const page = await web.get('/account')
    let response = await web.post('/account/password', { _csrf: csrfOf(page.text), current_password: 'not it', new_password: 'a new password here' })
    expect(response.status).toBe(401)
    expect(response.text).toContain('Your current password is not right.')
    // The login throttle allows 10 failures per account and address.
    for (let i = 0; i < 10 && response.status !== 429; i++)
      response = await web.post('/account/password', { _csrf: csrfOf(page.text), current_password: 'not it', new_password: 'a new password here' })
    expect(response.status).toBe(429)
    const retryAfter = Number(response.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThan(60)
    expect(response.text).toContain(`Try again in ${waitText(retryAfter)}.`)
    expect(response.text).toContain('href="/"')
    expect(securityEvents('login_failed').filter((event) => event.accountId === user.id && event.via === 'account').length).toBeGreaterThanOrEqual(10)
    // The right password is throttled too now (a soft lockout of this account and address only).
    const refused = await web.post('/account/password', { _csrf: csrfOf(page.text), current_password: user.password, new_password: 'a new password here' })
    expect(refused.status).toBe(429)
  })

  it('changes are logged as security events, with ids only', async () => {
    const user = await createTestUser(server.core)
    await loginOverHttp(server, user)
    const web = await signedIn(user)
    const page = await web.get('/account')
    const row = page.text.split('<li>').find((item) => item.includes('API session'))!
    const ref = /name="ref" value="([0-9a-f]+)"/.exec(row)![1]!
    await web.post('/account/revoke', { _csrf: csrfOf(page.text), ref })
    await web.post('/account/password', { _csrf: csrfOf(page.text), current_password: user.password, new_password: 'logged password change' })
    expect(web.cookies.has(SESSION_COOKIE)).toBe(true)
    await web.post('/account/logout-everywhere', { _csrf: csrfOf(page.text) })
    expect(web.cookies.has(SESSION_COOKIE)).toBe(false)
    for (const event of ['credential_revoked', 'password_changed', 'logged_out_everywhere']) {
      expect(
        securityEvents(event).filter((line) => line.accountId === user.id),
        event,
      ).toHaveLength(1)
    }
    const lines = logLines.join('\n')
    for (const secret of [user.password, 'logged password change', ref]) expect(lines).not.toContain(secret)
  })

  it('a Revoke on one instance is refused at once by another instance on the same database', async () => {
    const user = await createTestUser(server.core)
    const session = await loginOverHttp(server, user)
    const config = loadConfig({ CINEPASS_DATABASE: server.dbPath })
    const other = await startTestServer({ backend, store: await openStore(config, 'command') })
    try {
      const onOther = async (): Promise<number> => (await call(`${other.base}/3/account?api_key=${server.application.apiKey}&session_id=${session}`)).status
      expect(await onOther()).toBe(200)
      const web = await signedIn(user)
      const page = await web.get('/account')
      const row = page.text.split('<li>').find((item) => item.includes('API session'))!
      await web.post('/account/revoke', { _csrf: csrfOf(page.text), ref: /name="ref" value="([0-9a-f]+)"/.exec(row)![1]! })
      expect(await onOther()).toBe(401)
    } finally {
      await other.stop()
    }
  })

  it('waitText() says a wait as people do, rounded up', () => {
    expect([1, 40, 60, 61, 900, 3600, 3601].map(waitText)).toEqual(['1 second', '40 seconds', '1 minute', '2 minutes', '15 minutes', '1 hour', '2 hours'])
  })
})
