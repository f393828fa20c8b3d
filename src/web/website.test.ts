import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ManualClock } from '../core/clock.js'
import { createTestApplication, createTestUser, startTestServer, testBackends, type TestServer } from '../test-support/fixtures.js'
import { WebClient, csrfOf, newRequestToken, sessionFor } from '../test-support/web-client.js'
import { CSRF_COOKIE, SESSION_COOKIE } from './common.js'
import { safeNext } from './website.js'

describe.each(await testBackends('website'))('the approval website over HTTP on %s', (backend) => {
  let server: TestServer
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12))

  beforeAll(async () => {
    server = await startTestServer({ overrides: { clock }, backend })
  })
  afterAll(async () => {
    await (server as TestServer | undefined)?.stop() // undefined when beforeAll failed before assigning it
  })

  /** A client signed in as the test user. */
  const signedInClient = async (): Promise<WebClient> => {
    const web = new WebClient(server.base)
    const signedIn = await web.signIn(server.user)
    expect(signedIn.status).toBe(303)
    return web
  }

  it('GET /authenticate/:token asks a signed-out user to log in, with labelled fields', async () => {
    const token = await newRequestToken(server)
    const page = await new WebClient(server.base).get(`/authenticate/${token}`)
    expect(page.status).toBe(200)
    expect(page.text).toContain('<label for="username">Username</label>')
    expect(page.text).toContain('<label for="password">Password</label>')
    expect(page.text).toContain('>Log in</button>')
    expect(page.text).toContain(`name="next" value="/authenticate/${token}"`)
  })

  it('approving without redirect_to shows /allow with Authentication-Callback (no API key); session/new succeeds', async () => {
    const web = await signedInClient()
    const token = await newRequestToken(server)
    const page = await web.get(`/authenticate/${token}`)
    expect(page.text).toContain('Test app')
    expect(page.text).toContain('>Approve</button>')
    expect(page.text).toContain('>Deny</button>')
    const approved = await web.post(`/authenticate/${token}/allow`, { _csrf: csrfOf(page.text) })
    expect(approved.status).toBe(303)
    expect(approved.headers.get('location')).toBe(`/authenticate/${token}/allow`)
    const allow = await web.get(`/authenticate/${token}/allow`)
    expect(allow.status).toBe(200)
    const callback = allow.headers.get('authentication-callback')
    expect(callback).toBe(`${server.base}/3/authentication/session/new?request_token=${token}`)
    expect(callback).not.toContain(server.application.apiKey)
    expect(callback).not.toContain('api_key')
    expect((await sessionFor(server, token)).status).toBe(200)
    // Used: the links now say so with a 404 page.
    expect((await web.get(`/authenticate/${token}`)).status).toBe(404)
    expect((await web.get(`/authenticate/${token}/allow`)).status).toBe(404)
  })

  it('approving with redirect_to appends request_token and approved=true to its query (302)', async () => {
    const web = await signedInClient()
    const token = await newRequestToken(server)
    const redirectTo = 'https://client.example/cb?state=xyz#frag'
    const page = await web.get(`/authenticate/${token}?redirect_to=${encodeURIComponent(redirectTo)}`)
    expect(page.headers.get('content-security-policy')).toContain("form-action 'self' https://client.example;")
    const approved = await web.post(`/authenticate/${token}/allow`, { _csrf: csrfOf(page.text), redirect_to: redirectTo })
    expect(approved.status).toBe(302)
    expect(approved.headers.get('location')).toBe(`https://client.example/cb?state=xyz&request_token=${token}&approved=true#frag`)
    expect((await sessionFor(server, token)).status).toBe(200)
  })

  it('denying with redirect_to appends denied=true; session/new then gives 17', async () => {
    const web = await signedInClient()
    const token = await newRequestToken(server)
    const page = await web.get(`/authenticate/${token}?redirect_to=myapp://cb`)
    expect(page.headers.get('content-security-policy')).toContain("form-action 'self' myapp:;")
    const denied = await web.post(`/authenticate/${token}/deny`, { _csrf: csrfOf(page.text), redirect_to: 'myapp://cb' })
    expect(denied.status).toBe(302)
    expect(denied.headers.get('location')).toBe(`myapp://cb?request_token=${token}&denied=true`)
    const session = await sessionFor(server, token)
    expect(session).toEqual({ status: 401, body: { success: false, failure: true, status_code: 17, status_message: 'Session denied.' } })
    expect((await web.get(`/authenticate/${token}`)).status).toBe(404)
  })

  it('denying without redirect_to shows the /deny page', async () => {
    const web = await signedInClient()
    const token = await newRequestToken(server)
    const page = await web.get(`/authenticate/${token}`)
    const denied = await web.post(`/authenticate/${token}/deny`, { _csrf: csrfOf(page.text) })
    expect(denied.headers.get('location')).toBe(`/authenticate/${token}/deny`)
    const deny = await web.get(`/authenticate/${token}/deny`)
    expect(deny.status).toBe(200)
    expect(deny.text).toContain('Access denied')
    expect(deny.headers.get('authentication-callback')).toBeNull()
  })

  it('refuses relative and scriptable redirect_to values with a 400 page', async () => {
    const token = await newRequestToken(server)
    const refused = [
      '/cb',
      '//evil.example/cb',
      'cb',
      'javascript:alert(1)',
      'JavaScript://%0aalert(1)',
      'java\tscript://x',
      'data:text/html,<b>x</b>',
      'data://x',
      'vbscript://x',
      'file:///etc/passwd',
      'mailto:a@b.example',
      ' https://example.com',
    ]
    for (const value of refused) {
      const page = await new WebClient(server.base).get(`/authenticate/${token}?redirect_to=${encodeURIComponent(value)}`)
      expect(page.status, value).toBe(400)
      expect(page.text).toContain('Redirect not allowed')
      expect(page.text).not.toContain('<b>x</b>')
    }
    for (const value of ['https://example.com/cb', 'http://127.0.0.1:9/cb', 'myapp://cb', 'com.example.app://auth']) {
      expect((await new WebClient(server.base).get(`/authenticate/${token}?redirect_to=${encodeURIComponent(value)}`)).status, value).toBe(200)
    }
    // The approve form re-checks what it is given.
    const web = await signedInClient()
    const page = await web.get(`/authenticate/${token}`)
    expect((await web.post(`/authenticate/${token}/allow`, { _csrf: csrfOf(page.text), redirect_to: 'javascript:alert(1)' })).status).toBe(400)
    expect((await sessionFor(server, token)).body.status_code).toBe(17)
  })

  it('refuses browser-internal redirect_to schemes for an application without redirect origins, on the page and in v4', async () => {
    const token = await newRequestToken(server)
    const internal = [
      'chrome://settings',
      'CHROME://settings/passwords',
      'chrome-extension://abcdef/page.html',
      'chrome-untrusted://terminal/',
      'chrome-search://local-ntp/',
      'view-source://client.example/',
      'about://blank',
      'blob://client.example/x',
      'filesystem://x',
      'javascript://x%0aalert(1)',
    ]
    for (const value of internal) {
      const page = await new WebClient(server.base).get(`/authenticate/${token}?redirect_to=${encodeURIComponent(value)}`)
      expect(page.status, value).toBe(400)
      expect(page.text).toContain('Redirect not allowed')
      const v4 = await fetch(`${server.base}/4/auth/request_token`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.application.readAccessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_to: value }),
      })
      expect(v4.status, value).toBe(422)
    }
  })

  it("refuses redirect_to outside an application's redirect origins", async () => {
    const created = await server.core.admin.createApplication({ name: 'Listed', redirectOrigins: ['https://good.example', 'myapp://cb'] })
    const token = await newRequestToken(server, created.api_key)
    const status = async (value: string) => (await new WebClient(server.base).get(`/authenticate/${token}?redirect_to=${encodeURIComponent(value)}`)).status
    expect(await status('https://good.example/back?x=1')).toBe(200)
    expect(await status('myapp://cb/path')).toBe(200)
    expect(await status('https://evil.example/back')).toBe(400)
    expect(await status('http://good.example/back')).toBe(400)
    expect(await status('https://good.example.evil.example/')).toBe(400)
    expect(await status('otherapp://cb')).toBe(400)
  })

  it('unknown, malformed and expired tokens get a 404 page that says so', async () => {
    const web = await signedInClient()
    for (const path of [
      `/authenticate/${'a'.repeat(40)}`,
      '/authenticate/not-a-token',
      '/auth/access?request_token=abc',
      '/auth/access',
      `/authenticate/${'a'.repeat(40)}/allow`,
    ]) {
      const page = await web.get(path)
      expect(page.status, path).toBe(404)
      expect(page.text).toContain('has expired, or has already been used')
    }
    const token = await newRequestToken(server)
    const page = await web.get(`/authenticate/${token}`)
    clock.advance(61 * 60 * 1000)
    expect((await web.get(`/authenticate/${token}`)).status).toBe(404)
    expect((await web.post(`/authenticate/${token}/allow`, { _csrf: csrfOf(page.text) })).status).toBe(404)
  })

  it('refuses every form post without a valid CSRF token with 403', async () => {
    const token = await newRequestToken(server)
    const fresh = new WebClient(server.base)
    // No CSRF cookie at all.
    const noCookie = await fresh.post('/login', { username: server.user.username, password: server.user.password })
    expect(noCookie.status).toBe(403)
    expect(noCookie.text).toContain('Form expired')
    expect(fresh.cookies.has(SESSION_COOKIE)).toBe(false)

    const web = await signedInClient()
    const page = await web.get(`/authenticate/${token}`)
    const good = csrfOf(page.text)
    const forged = `${good.slice(0, -4)}AAAA`
    for (const [path, form] of [
      [`/authenticate/${token}/allow`, {}],
      [`/authenticate/${token}/allow`, { _csrf: forged }],
      [`/authenticate/${token}/deny`, { _csrf: '' }],
      ['/auth/access/approve', { request_token: 'x' }],
      ['/logout', {}],
      ['/signup', { username: 'mallory', password: 'pw' }],
      ['/login', { _csrf: forged, username: 'a', password: 'b' }],
    ] as const) {
      const response = await web.post(path, form)
      expect(response.status, path).toBe(403)
    }
    // A token from another browser's cookie does not fit this one's.
    const other = new WebClient(server.base)
    const otherToken = csrfOf((await other.get('/login')).text)
    expect((await web.post(`/authenticate/${token}/allow`, { _csrf: otherToken })).status).toBe(403)
    // Nothing was approved or denied.
    expect((await sessionFor(server, token)).body.status_code).toBe(17)
    expect((await web.get(`/authenticate/${token}`)).status).toBe(200)
  })

  it("binds the CSRF secret to the website session: alice's session with bob's CSRF cookie and token approves nothing", async () => {
    const alice = await signedInClient()
    const bob = new WebClient(server.base)
    expect((await bob.signIn(await createTestUser(server.core))).status).toBe(303)
    const token = await newRequestToken(server)
    const bobsToken = csrfOf((await bob.get(`/authenticate/${token}`)).text)
    // Alice's browser carrying every cookie of Bob's except the session: his CSRF cookie, if any, and his form token.
    const mixed = new WebClient(server.base)
    for (const [name, value] of bob.cookies) mixed.cookies.set(name, value)
    mixed.cookies.set(SESSION_COOKIE, alice.cookies.get(SESSION_COOKIE)!)
    const forged = await mixed.post(`/authenticate/${token}/allow`, { _csrf: bobsToken })
    expect(forged.status).toBe(403)
    expect((await sessionFor(server, token)).body.status_code).toBe(17)
    // Bob's own browser still approves with it.
    expect((await bob.post(`/authenticate/${token}/allow`, { _csrf: bobsToken })).status).toBe(303)
  })

  it('rotates the CSRF secret at sign-in and sign-out: a form token from before no longer works', async () => {
    const web = new WebClient(server.base)
    const token = await newRequestToken(server)
    const before = csrfOf((await web.get(`/authenticate/${token}`)).text)
    expect((await web.post('/login', { _csrf: before, username: server.user.username, password: server.user.password, next: '/' })).status).toBe(303)
    expect((await web.post(`/authenticate/${token}/allow`, { _csrf: before })).status).toBe(403)
    expect((await sessionFor(server, token)).body.status_code).toBe(17)
    const signedIn = csrfOf((await web.get('/')).text)
    expect((await web.post('/logout', { _csrf: signedIn, next: '/login' })).status).toBe(303)
    // After sign-out, the signed-in form token does not sign anyone in.
    expect((await web.post('/login', { _csrf: signedIn, username: server.user.username, password: server.user.password })).status).toBe(403)
  })

  it('signing in again while signed in ends the old website session', async () => {
    const web = await signedInClient()
    const old = web.cookies.get(SESSION_COOKIE)!
    const home = await web.get('/')
    const other = await createTestUser(server.core)
    const again = await web.post('/login', { _csrf: csrfOf(home.text), username: other.username, password: other.password, next: '/' })
    expect(again.status).toBe(303)
    const fresh = web.cookies.get(SESSION_COOKIE)!
    expect(fresh).not.toBe(old)
    expect(await server.core.website.accountOf(old)).toBeNull()
    expect((await server.core.website.accountOf(fresh))?.username).toBe(other.username)
  })

  it('sets HttpOnly, SameSite=Lax cookies, without Secure on an http public URL', async () => {
    const web = new WebClient(server.base)
    await web.get('/login')
    const csrfCookie = web.lastSetCookies.find((line) => line.startsWith(`${CSRF_COOKIE}=`))
    expect(csrfCookie).toMatch(/; HttpOnly/i)
    expect(csrfCookie).toMatch(/; SameSite=Lax/i)
    expect(csrfCookie).not.toMatch(/; Secure/i)
    await web.signIn(server.user)
    const sessionCookie = web.lastSetCookies.find((line) => line.startsWith(`${SESSION_COOKIE}=`))
    expect(sessionCookie).toMatch(/; HttpOnly/i)
    expect(sessionCookie).toMatch(/; SameSite=Lax/i)
    expect(sessionCookie).toMatch(/; Path=\//i)
    expect(sessionCookie).not.toMatch(/; Secure/i)
  })

  it('stores website sessions only as hashes', async () => {
    const web = await signedInClient()
    const token = web.cookies.get(SESSION_COOKIE)!
    expect(token).toMatch(/^[0-9a-f]{40}$/)
    const { hashSecret } = await import('../core/secrets.js')
    expect(await server.store.findWebSession(token)).toBeNull()
    expect(await server.store.findWebSession(hashSecret(token))).not.toBeNull()
  })

  it('website pages carry a strict CSP, refuse framing and send no referrer', async () => {
    const token = await newRequestToken(server)
    for (const path of ['/login', `/authenticate/${token}`, `/authenticate/${'b'.repeat(40)}`, '/signup']) {
      const page = await new WebClient(server.base).get(path)
      const csp = page.headers.get('content-security-policy') ?? ''
      expect(csp, path).toContain("default-src 'none'")
      expect(csp).toContain("frame-ancestors 'none'")
      expect(csp).not.toContain('unsafe-inline')
      expect(csp).not.toContain('script-src')
      expect(page.headers.get('x-frame-options')).toBe('DENY')
      expect(page.headers.get('referrer-policy')).toBe('no-referrer')
      expect(page.headers.get('x-content-type-options')).toBe('nosniff')
      expect(page.headers.get('cache-control')).toBe('no-store')
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
      expect(page.text).not.toContain('<script')
    }
  })

  it('a wrong password shows the form again with 401 and no session; the same for an unknown user', async () => {
    const web = new WebClient(server.base)
    const wrong = await web.signIn({ username: server.user.username, password: 'wrong password' })
    expect(wrong.status).toBe(401)
    expect(wrong.text).toContain('Invalid username or password.')
    expect(web.cookies.has(SESSION_COOKIE)).toBe(false)
    const unknown = await web.signIn({ username: 'nobody-here', password: 'wrong password' })
    expect(unknown.status).toBe(401)
    expect(unknown.text.replace('nobody-here', server.user.username).replace(/value="[^"]{40,}"/, '')).toBe(wrong.text.replace(/value="[^"]{40,}"/, ''))
  })

  it('after sign-in, next only leads to local paths', async () => {
    const web = new WebClient(server.base)
    const form = await web.get('/login')
    const response = await web.post('/login', {
      _csrf: csrfOf(form.text),
      username: server.user.username,
      password: server.user.password,
      next: '//evil.example/x',
    })
    expect(response.headers.get('location')).toBe('/')
    expect(safeNext('/authenticate/abc?redirect_to=x')).toBe('/authenticate/abc?redirect_to=x')
    for (const bad of ['https://evil.example', '//evil.example', '/\\evil.example', 'evil', '/a b', undefined]) expect(safeNext(bad)).toBe('/')
  })

  it('logout ends the website session', async () => {
    const web = await signedInClient()
    const token = web.cookies.get(SESSION_COOKIE)!
    const home = await web.get('/')
    expect(home.status).toBe(200)
    const out = await web.post('/logout', { _csrf: csrfOf(home.text), next: '/login' })
    expect(out.status).toBe(303)
    expect(web.cookies.has(SESSION_COOKIE)).toBe(false)
    expect(await server.core.website.accountOf(token)).toBeNull()
  })

  it('sign-up creates an account and signs it in; a taken username is refused on the form', async () => {
    const web = new WebClient(server.base)
    const form = await web.get('/signup?next=/')
    const created = await web.post('/signup', { _csrf: csrfOf(form.text), username: 'newcomer', password: 'a long password', email: '', next: '/' })
    expect(created.status).toBe(303)
    expect(web.cookies.has(SESSION_COOKIE)).toBe(true)
    const again = new WebClient(server.base)
    const form2 = await again.get('/signup')
    const taken = await again.post('/signup', { _csrf: csrfOf(form2.text), username: 'newcomer', password: 'another long one', next: '/' })
    expect(taken.status).toBe(400)
    expect(taken.text).toContain('is taken')
    const short = await again.post('/signup', { _csrf: csrfOf(form2.text), username: 'shorty', password: 'seven77', next: '/' })
    expect(short.status).toBe(400)
    expect(short.text).toContain('at least 8 characters')
    expect(again.cookies.has(SESSION_COOKIE)).toBe(false)
  })

  it('answers hostile input with an HTML error page, never a 5xx or a JSON body', async () => {
    const web = new WebClient(server.base)
    const csrf = csrfOf((await web.get('/login')).text)
    const token = await newRequestToken(server)
    const huge = await fetch(`${server.base}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: [...web.cookies].map(([n, v]) => `${n}=${v}`).join('; ') },
      body: `_csrf=${encodeURIComponent(csrf)}&username=${'a'.repeat(20_000)}`,
    })
    expect(huge.status).toBe(400)
    expect(huge.headers.get('content-type')).toBe('text/html; charset=utf-8')
    const repeated = await web.get(`/authenticate/${token}?redirect_to=https://a.example&redirect_to=https://b.example`)
    expect(repeated.status).toBe(400)
    const twice = await web.post('/login', { _csrf: csrf, username: server.user.username, password: server.user.password })
    expect(twice.status).toBe(303)
    const json = await fetch(`${server.base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":' })
    expect(json.status).toBe(400)
    expect(json.headers.get('content-type')).toBe('text/html; charset=utf-8')
    // Signed in now: forms carry the session's CSRF token.
    const signedInCsrf = csrfOf((await web.get('/')).text)
    const proto = await web.post('/login', { _csrf: signedInCsrf, __proto__: 'x', constructor: 'y', username: server.user.username })
    expect(proto.status).toBe(400)
    expect(({} as Record<string, unknown>).username).toBeUndefined()
  })

  it('escapes what it shows: an application name with markup renders as text', async () => {
    const hostile = await server.core.admin.createApplication({ name: '<script>alert("x")</script> & "Co"' })
    const token = await newRequestToken(server, hostile.api_key)
    const web = await signedInClient()
    const page = await web.get(`/authenticate/${token}`)
    expect(page.text).not.toContain('<script>')
    expect(page.text).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;Co&quot;')
  })
})

describe('the website with CINEPASS_SIGNUP=closed and an https public URL', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ env: { CINEPASS_SIGNUP: 'closed', CINEPASS_PUBLIC_URL: 'https://auth.example.test' } })
  })
  afterAll(async () => {
    await (server as TestServer | undefined)?.stop() // undefined when beforeAll failed before assigning it
  })

  it('refuses sign-up with a 404 page and does not offer it', async () => {
    const web = new WebClient(server.base)
    expect((await web.get('/signup')).status).toBe(404)
    const login = await web.get('/login')
    expect(login.text).not.toContain('/signup')
    const posted = await web.post('/signup', { _csrf: csrfOf(login.text), username: 'sneaky', password: 'pw' })
    expect(posted.status).toBe(404)
    expect(await server.store.findAccountByUsername('sneaky')).toBeNull()
  })

  it('marks its cookies Secure', async () => {
    const web = new WebClient(server.base)
    await web.get('/login')
    expect(web.lastSetCookies.find((line) => line.startsWith(`__Host-${CSRF_COOKIE}=`))).toMatch(/; Secure/i)
    await web.signIn(server.user)
    expect(web.lastSetCookies.find((line) => line.startsWith(`__Host-${SESSION_COOKIE}=`))).toMatch(/; Secure/i)
  })

  it('names its cookies with the __Host- prefix (Secure, Path=/, no Domain), and no unprefixed cookie is set or read', async () => {
    const web = new WebClient(server.base)
    await web.get('/login')
    await web.signIn(server.user)
    expect([...web.cookies.keys()].sort()).toEqual([`__Host-${SESSION_COOKIE}`])
    const session = web.lastSetCookies.find((line) => line.startsWith(`__Host-${SESSION_COOKIE}=`)) ?? ''
    expect(session).toMatch(/; Path=\//i)
    expect(session).not.toMatch(/; Domain=/i)
    // A cookie tossed in without the prefix (from a sibling host, say) signs nobody in.
    const tossed = new WebClient(server.base)
    tossed.cookies.set(SESSION_COOKIE, web.cookies.get(`__Host-${SESSION_COOKIE}`)!)
    expect((await tossed.get('/')).status).toBe(303)
  })

  it('the account page reads and clears the __Host- session cookie, and an unprefixed one reaches no account', async () => {
    const web = new WebClient(server.base)
    await web.get('/login')
    await web.signIn(server.user)
    const page = await web.get('/account')
    expect(page.status).toBe(200)
    const tossed = new WebClient(server.base)
    tossed.cookies.set(SESSION_COOKIE, web.cookies.get(`__Host-${SESSION_COOKIE}`)!)
    expect((await tossed.get('/account')).status).toBe(303)
    const out = await web.post('/account/logout-everywhere', { _csrf: csrfOf(page.text) })
    expect(out.status).toBe(303)
    expect(web.cookies.has(`__Host-${SESSION_COOKIE}`)).toBe(false)
  })

  it('puts the public URL in Authentication-Callback', async () => {
    const app = await createTestApplication(server.core, 'Callback app')
    const user = await createTestUser(server.core)
    const token = await newRequestToken(server, app.apiKey)
    const web = new WebClient(server.base)
    // Secure cookies are not sent back over plain http by browsers; this client does so for the test.
    await web.signIn(user)
    const page = await web.get(`/authenticate/${token}`)
    await web.post(`/authenticate/${token}/allow`, { _csrf: csrfOf(page.text) })
    const allow = await web.get(`/authenticate/${token}/allow`)
    expect(allow.headers.get('authentication-callback')).toBe(`https://auth.example.test/3/authentication/session/new?request_token=${token}`)
  })
})
