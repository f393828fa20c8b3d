import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, startTestServer, type TestServer } from '../test-support/fixtures.js'
import { WebClient, csrfOf } from '../test-support/web-client.js'

// Redirect targets with characters outside ASCII, over real HTTP: before, the Location header could
// not be written, and the answer was a 500 in JSON without the website's protective headers (after
// the v4 approval had been committed).
describe('redirect targets outside ASCII', () => {
  let server: TestServer

  beforeAll(async () => {
    server = await startTestServer()
  })
  afterAll(async () => {
    await (server as TestServer | undefined)?.stop() // undefined when beforeAll failed before assigning it
  })

  function expectPageHeaders(headers: Headers): void {
    expect(headers.get('x-frame-options')).toBe('DENY')
    expect(headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
    expect(headers.get('cache-control')).toBe('no-store')
  }

  it('sign-in with next=/€ continues to it, serialised as ASCII', async () => {
    const web = new WebClient(server.base)
    const signedIn = await web.signIn(server.user, '/€?q=€#€')
    expect(signedIn.status).toBe(303)
    expect(signedIn.headers.get('location')).toBe('/%E2%82%AC?q=%E2%82%AC#%E2%82%AC')
    expectPageHeaders(signedIn.headers)
    // Already signed in, GET /login goes on to next at once.
    const again = await web.get(`/login?next=${encodeURIComponent('/€')}`)
    expect(again.status).toBe(303)
    expect(again.headers.get('location')).toBe('/%E2%82%AC')
    expectPageHeaders(again.headers)
  })

  it('a next that is not a local path falls back to /', async () => {
    for (const next of ['//evil.example/€', '/\\evil.example', 'https://evil.example/', '/ €']) {
      const web = new WebClient(server.base)
      const form = await web.get('/login')
      const signedIn = await web.post('/login', { _csrf: csrfOf(form.text), username: server.user.username, password: server.user.password, next })
      expect(signedIn.status, next).toBe(303)
      expect(signedIn.headers.get('location'), next).toBe('/')
    }
  })

  it('logout with next=/€ signs out and continues to it, serialised as ASCII', async () => {
    const web = new WebClient(server.base)
    await web.signIn(server.user)
    const home = await web.get('/')
    const out = await web.post('/logout', { _csrf: csrfOf(home.text), next: '/€' })
    expect(out.status).toBe(303)
    expect(out.headers.get('location')).toBe('/%E2%82%AC')
    expectPageHeaders(out.headers)
    expect((await web.get('/')).headers.get('location')).toBe('/login')
  })

  it('approving a v4 request token whose redirect_to has non-ASCII characters redirects to it as ASCII, and the token is approved', async () => {
    const bearer = { authorization: `Bearer ${server.application.readAccessToken}`, 'content-type': 'application/json' }
    const created = await call(`${server.base}/4/auth/request_token`, {
      method: 'POST',
      headers: bearer,
      body: JSON.stringify({ redirect_to: 'https://a.example/€?x=€' }),
    })
    expect(created.status).toBe(200)
    const requestToken = created.body.request_token as string
    const web = new WebClient(server.base)
    await web.signIn(server.user)
    const page = await web.get(`/auth/access?request_token=${encodeURIComponent(requestToken)}`)
    expect(page.status).toBe(200)
    const approved = await web.post('/auth/access/approve', { _csrf: csrfOf(page.text), request_token: requestToken })
    expect(approved.status).toBe(302)
    expect(approved.headers.get('location')).toBe('https://a.example/%E2%82%AC?x=%E2%82%AC')
    expectPageHeaders(approved.headers)
    const access = await call(`${server.base}/4/auth/access_token`, { method: 'POST', headers: bearer, body: JSON.stringify({ request_token: requestToken }) })
    expect(access.status).toBe(200)
  })

  it('denying a v4 request token whose redirect_to has non-ASCII characters redirects to it as ASCII', async () => {
    const bearer = { authorization: `Bearer ${server.application.readAccessToken}`, 'content-type': 'application/json' }
    const created = await call(`${server.base}/4/auth/request_token`, {
      method: 'POST',
      headers: bearer,
      body: JSON.stringify({ redirect_to: 'https://a.example/€' }),
    })
    const requestToken = created.body.request_token as string
    const web = new WebClient(server.base)
    await web.signIn(server.user)
    const page = await web.get(`/auth/access?request_token=${encodeURIComponent(requestToken)}`)
    const denied = await web.post('/auth/access/deny', { _csrf: csrfOf(page.text), request_token: requestToken })
    expect(denied.status).toBe(302)
    expect(denied.headers.get('location')).toBe('https://a.example/%E2%82%AC')
    expectPageHeaders(denied.headers)
  })
})
