import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { hashSecret } from '../core/secrets.js'
import { call, createTestUser, loginOverHttp, rawCall, startTestServer, testBackends, type TestServer } from '../test-support/fixtures.js'
import { TMDB_STATUS, type TmdbStatusName } from '../wire/status.js'

let server: TestServer
let base: string
let key: string

const json = (body: unknown, init: RequestInit = {}): RequestInit => ({
  ...init,
  headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string>) },
  body: JSON.stringify(body),
})

function expectTmdbError(response: { status: number; headers: Headers; body: any }, code: TmdbStatusName): void {
  const status = TMDB_STATUS[code]
  expect(response.status).toBe(status.http)
  expect(response.headers.get('content-type')).toBe('application/json;charset=utf-8')
  expect(response.headers.get('cache-control')).toBe('no-store')
  const expected: Record<string, unknown> = { success: false, status_code: status.status_code, status_message: status.message }
  if (code === 'SESSION_DENIED') expected.failure = true
  expect(response.body).toEqual(expected)
  expect(Object.keys(response.body)).toEqual(
    code === 'SESSION_DENIED' ? ['success', 'failure', 'status_code', 'status_message'] : ['success', 'status_code', 'status_message'],
  )
}

async function newToken(apiKey = key): Promise<string> {
  const response = await call(`${base}/3/authentication/token/new?api_key=${apiKey}`)
  expect(response.status).toBe(200)
  return response.body.request_token
}

async function approvedToken(user = server.user): Promise<string> {
  const token = await newToken()
  const validated = await call(
    `${base}/3/authentication/token/validate_with_login?api_key=${key}`,
    json({ username: user.username, password: user.password, request_token: token }, { method: 'POST' }),
  )
  expect(validated.status).toBe(200)
  return token
}

describe.each(await testBackends('v3 routes'))('the v3 API on %s', (backend) => {
  beforeAll(async () => {
    server = await startTestServer({ backend, transport: 'inject' })
    base = server.base
    key = server.application.apiKey
  })

  afterAll(async () => {
    await (server as TestServer | undefined)?.stop() // undefined when beforeAll failed before assigning it
  })

  describe('GET /3/authentication', () => {
    it('answers TMDB success for a valid API key', async () => {
      const response = await call(`${base}/3/authentication?api_key=${key}`)
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('application/json;charset=utf-8')
      expect(response.text).toBe('{"success":true,"status_code":1,"status_message":"Success."}')
    })

    it('refuses a missing, malformed or unknown API key with 401/7', async () => {
      expectTmdbError(await call(`${base}/3/authentication`), 'INVALID_API_KEY')
      expectTmdbError(await call(`${base}/3/authentication?api_key=nope`), 'INVALID_API_KEY')
      expectTmdbError(await call(`${base}/3/authentication?api_key=${'0'.repeat(32)}`), 'INVALID_API_KEY')
    })

    it('accepts the read access token as a Bearer, and refuses a bare API key or a tampered JWT as one', async () => {
      const ok = await call(`${base}/3/authentication`, { headers: { authorization: `Bearer ${server.application.readAccessToken}` } })
      expect(ok.status).toBe(200)
      expectTmdbError(await call(`${base}/3/authentication`, { headers: { authorization: `Bearer ${key}` } }), 'INVALID_API_KEY')
      const [header, payload, signature] = server.application.readAccessToken.split('.')
      const tampered = `${header}.${payload}.${signature!.slice(0, -2)}${signature!.endsWith('AA') ? 'BB' : 'AA'}`
      expectTmdbError(await call(`${base}/3/authentication`, { headers: { authorization: `Bearer ${tampered}` } }), 'INVALID_API_KEY')
    })

    it('accepts api_key in a JSON body, as one popular client sends it', async () => {
      const token = await approvedToken()
      const response = await call(`${base}/3/authentication/session/new`, json({ api_key: key, request_token: token }, { method: 'POST' }))
      expect(response.status).toBe(200)
    })

    it('answers 401/10 for a suspended application, and serves it again once resumed', async () => {
      const other = await server.core.admin.createApplication({ name: 'Soon suspended' })
      await server.core.admin.setApplicationSuspended(other.api_key, true)
      server.core.auth.forgetApplications()
      expectTmdbError(await call(`${base}/3/authentication?api_key=${other.api_key}`), 'SUSPENDED_API_KEY')
      await server.core.admin.setApplicationSuspended(other.api_key, false)
      server.core.auth.forgetApplications()
      expect((await call(`${base}/3/authentication?api_key=${other.api_key}`)).status).toBe(200)
    })
  })

  describe('routing', () => {
    it('checks credentials before routing: an unknown path without a key is 401/7, with one 404/34', async () => {
      expectTmdbError(await call(`${base}/3/no/such/thing`), 'INVALID_API_KEY')
      expectTmdbError(await call(`${base}/3/no/such/thing?api_key=${key}`), 'NOT_FOUND')
      expectTmdbError(await call(`${base}/4/nothing?api_key=${key}`), 'NOT_FOUND')
    })

    it('answers 405/42 for a method a known path does not serve', async () => {
      expectTmdbError(await call(`${base}/3/authentication/token/new?api_key=${key}`, { method: 'POST' }), 'METHOD_NOT_SUPPORTED')
      expectTmdbError(await call(`${base}/3/authentication/session?api_key=${key}`, { method: 'GET' }), 'METHOD_NOT_SUPPORTED')
      expectTmdbError(await call(`${base}/3/authentication?api_key=${key}`, { method: 'PUT' }), 'METHOD_NOT_SUPPORTED')
      expectTmdbError(await call(`${base}/3/authentication/token/new`, { method: 'PATCH' }), 'INVALID_API_KEY')
    })

    it('answers HEAD on an API path 405/42 with Allow and no body, without running the GET handler', async () => {
      const token = await approvedToken()
      const head = await rawCall(base, 'HEAD', `/3/authentication/session/new?api_key=${key}&request_token=${token}`)
      expect(head.status).toBe(405)
      expect(head.headers.get('allow')).toBe('GET, POST')
      expect(head.headers.get('content-type')).toBe('application/json;charset=utf-8')
      expect(head.text).toBe('')
      // The approved token was not consumed by the HEAD: it still gives its one session.
      expect((await call(`${base}/3/authentication/session/new?api_key=${key}&request_token=${token}`)).status).toBe(200)
      const inserts = vi.spyOn(server.store, 'insertRequestToken')
      try {
        const tokenHead = await rawCall(base, 'HEAD', `/3/authentication/token/new?api_key=${key}`)
        expect(tokenHead.status).toBe(405)
        expect(tokenHead.headers.get('allow')).toBe('GET')
        expect(inserts).not.toHaveBeenCalled()
      } finally {
        inserts.mockRestore()
      }
      expect((await rawCall(base, 'HEAD', '/3/authentication/token/new')).status).toBe(401)
      expect((await rawCall(base, 'HEAD', `/3/no/such/thing?api_key=${key}`)).status).toBe(404)
    })

    it('answers less common methods 405/42 on a known path, 404/34 on an unknown one, 401/7 without credentials first', async () => {
      for (const method of ['TRACE', 'PROPFIND', 'SEARCH', 'MKCOL', 'LOCK', 'UNLOCK', 'COPY', 'MOVE', 'PURGE', 'REPORT']) {
        const known = await rawCall(base, method, `/3/authentication/session?api_key=${key}`)
        expectTmdbError(known, 'METHOD_NOT_SUPPORTED')
        expect(known.headers.get('allow')).toBe('DELETE')
        expectTmdbError(await rawCall(base, method, `/4/auth/nothing?api_key=${key}`), 'NOT_FOUND')
        expectTmdbError(await rawCall(base, method, '/3/authentication/session'), 'INVALID_API_KEY')
      }
      const put = await call(`${base}/3/account/${server.user.id}?api_key=${key}`, { method: 'PUT' })
      expectTmdbError(put, 'METHOD_NOT_SUPPORTED')
      expect(put.headers.get('allow')).toBe('GET')
    })

    it('routes every spelling of an API path (//3, /%33, /3//, dot segments, absolute-form) behind the credential check', async () => {
      const spellings = [
        '//3/authentication',
        '/%33/authentication',
        '/3//authentication',
        '/x/../3/authentication',
        '/3/./authentication',
        '/%2e%2e/3/authentic%61tion',
        '/4/../3/authentication',
        `http://127.0.0.1/3/authentication`,
      ]
      for (const path of spellings) {
        const refused = await rawCall(base, 'GET', path)
        expectTmdbError(refused, 'INVALID_API_KEY')
        expect(refused.headers.get('access-control-allow-origin'), path).toBe('*')
        const served = await rawCall(base, 'GET', `${path}?api_key=${key}`)
        expect(served.status, path).toBe(200)
        expect(served.body).toEqual({ success: true, status_code: 1, status_message: 'Success.' })
      }
      for (const path of ['//3/zzz', '/%33/zzz', '/x/../4/zzz', '/%34//auth/nothing']) {
        expectTmdbError(await rawCall(base, 'GET', `${path}?api_key=${key}`), 'NOT_FOUND')
        expectTmdbError(await rawCall(base, 'GET', path), 'INVALID_API_KEY')
      }
    })

    it('marks every API answer, success or refusal, Cache-Control: no-store', async () => {
      const sessionId = await loginOverHttp(server)
      const responses = [
        await call(`${base}/3/authentication?api_key=${key}`),
        await call(`${base}/3/authentication/token/new?api_key=${key}`),
        await call(`${base}/3/authentication/guest_session/new?api_key=${key}`),
        await call(`${base}/3/account?api_key=${key}&session_id=${sessionId}`),
        await call(`${base}/3/authentication/session?api_key=${key}&session_id=${sessionId}`, { method: 'DELETE' }),
        await call(`${base}/3/authentication`),
        await call(`${base}/3/nothing?api_key=${key}`),
        await call(`${base}/3/authentication?api_key=${key}`, { method: 'PUT' }),
        await call(`${base}/3/authentication?api_key=${key}`, {
          method: 'OPTIONS',
          headers: { origin: 'https://a.example', 'access-control-request-method': 'GET' },
        }),
        await call(`${base}/3/authentication?api_key=${key}`, { headers: { 'x-big': 'y'.repeat(40_000) } }),
        await rawCall(base, 'HEAD', `/3/authentication?api_key=${key}`),
      ]
      for (const response of responses) expect(response.headers.get('cache-control'), String(response.status)).toBe('no-store')
    })

    it('serves health and readiness outside the API without credentials', async () => {
      expect((await call(`${base}/healthz`)).body).toEqual({ status: 'ok' })
      expect((await call(`${base}/readyz`)).body).toEqual({ status: 'ok' })
    })
  })

  describe('bodies and parameters', () => {
    it('answers 400/47 for a body that claims JSON but is not', async () => {
      const response = await call(`${base}/3/authentication/session/new?api_key=${key}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"request_token":',
      })
      expectTmdbError(response, 'INVALID_INPUT')
    })

    it('treats an empty body with a JSON Content-Type as no body, on GET and on DELETE', async () => {
      const get = await call(`${base}/3/authentication/token/new?api_key=${key}`, { headers: { 'content-type': 'application/json' } })
      expect(get.status).toBe(200)
      const sessionId = await loginOverHttp(server)
      const del = await call(`${base}/3/authentication/session?api_key=${key}&session_id=${sessionId}`, {
        method: 'DELETE',
        headers: { 'content-type': 'application/json' },
        body: '',
      })
      expect(del.status).toBe(200)
      expect(del.body).toEqual({ success: true })
    })

    it('reads parameters from a form-encoded body', async () => {
      const token = await approvedToken()
      const response = await call(`${base}/3/authentication/session/new?api_key=${key}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ request_token: token }).toString(),
      })
      expect(response.status).toBe(200)
    })

    it('ignores unknown extra parameters such as language and a stray session_id', async () => {
      const response = await call(`${base}/3/authentication/token/new?api_key=${key}&language=en-US&session_id=whatever`)
      expect(response.status).toBe(200)
    })

    it('refuses a body over 16 KiB with 400/47', async () => {
      const response = await call(`${base}/3/authentication/session/new?api_key=${key}`, json({ request_token: 'a'.repeat(20_000) }, { method: 'POST' }))
      expectTmdbError(response, 'INVALID_INPUT')
    })

    it('refuses non-string and over-long parameter values with 400/47', async () => {
      expectTmdbError(await call(`${base}/3/authentication/session/new?api_key=${key}`, json({ request_token: ['a'] }, { method: 'POST' })), 'INVALID_INPUT')
      expectTmdbError(await call(`${base}/3/authentication/session/new?api_key=${key}`, json({ request_token: 42 }, { method: 'POST' })), 'INVALID_INPUT')
      expectTmdbError(await call(`${base}/3/authentication/session/new?api_key=${key}&request_token=${'a'.repeat(3000)}`), 'INVALID_INPUT')
      expectTmdbError(await call(`${base}/3/authentication/session/new?api_key=${key}&request_token=a&request_token=b`), 'INVALID_INPUT')
    })

    it('checks credentials before the parameters: a non-string, repeated-with-another-value or over-long api_key is 401/7', async () => {
      const url = `${base}/3/authentication/session/new`
      expectTmdbError(await call(url, json({ api_key: [key], request_token: 'a'.repeat(40) }, { method: 'POST' })), 'INVALID_API_KEY')
      expectTmdbError(await call(url, json({ api_key: 42 }, { method: 'POST' })), 'INVALID_API_KEY')
      expectTmdbError(await call(url, json({ api_key: { key } }, { method: 'POST' })), 'INVALID_API_KEY')
      expectTmdbError(await call(`${url}?api_key=${key}&api_key=${'0'.repeat(32)}`), 'INVALID_API_KEY')
      expectTmdbError(await call(`${url}?api_key=${'k'.repeat(3000)}`), 'INVALID_API_KEY')
      // Without credentials an over-long other parameter is 401/7 too; with them it is 400/47.
      expectTmdbError(await call(`${base}/3/authentication?language=${'x'.repeat(3000)}`), 'INVALID_API_KEY')
      expectTmdbError(await call(`${base}/3/authentication?api_key=${key}&language=${'x'.repeat(3000)}`), 'INVALID_INPUT')
      // The same key twice is one key.
      expect((await call(`${base}/3/authentication?api_key=${key}&api_key=${key}`)).status).toBe(200)
    })

    it('treats an empty parameter value or a JSON null as missing: 422/5 where the parameter is required', async () => {
      expectTmdbError(await call(`${base}/3/authentication/session/new?api_key=${key}&request_token=`), 'INVALID_PARAMETERS')
      expectTmdbError(
        await call(`${base}/3/authentication/session/new?api_key=${key}`, json({ request_token: null }, { method: 'POST' })),
        'INVALID_PARAMETERS',
      )
      expectTmdbError(await call(`${base}/3/authentication/session?api_key=${key}&session_id=`, { method: 'DELETE' }), 'INVALID_PARAMETERS')
      expectTmdbError(await call(`${base}/3/authentication/session?api_key=${key}`, json({ session_id: '' }, { method: 'DELETE' })), 'INVALID_PARAMETERS')
      const { username, password } = server.user
      expectTmdbError(
        await call(`${base}/3/authentication/token/validate_with_login?api_key=${key}`, json({ username, password, request_token: '' }, { method: 'POST' })),
        'INVALID_PARAMETERS',
      )
      expectTmdbError(
        await call(`${base}/3/authentication/token/validate_with_login?api_key=${key}&username=&password=x&request_token=${'a'.repeat(40)}`),
        'CREDENTIALS_REQUIRED',
      )
      // An empty value in the body does not hide the query string's.
      const token = await approvedToken()
      expect(
        (await call(`${base}/3/authentication/session/new?api_key=${key}&request_token=${token}`, json({ request_token: '' }, { method: 'POST' }))).status,
      ).toBe(200)
    })

    it('reads the parameters of a GET from its JSON body, as from any other body', async () => {
      const token = await approvedToken()
      const viaBody = await rawCall(
        base,
        'GET',
        `/3/authentication/session/new?api_key=${key}`,
        { 'Content-Type': 'application/json' },
        JSON.stringify({ request_token: token }),
      )
      expect(viaBody.status).toBe(200)
      expect(viaBody.body.session_id).toMatch(/^[0-9a-f]{40}$/)
      const broken = await rawCall(base, 'GET', `/3/authentication/session/new?api_key=${key}`, { 'Content-Type': 'application/json' }, '{"request_token":')
      expectTmdbError(broken, 'INVALID_INPUT')
    })

    it('reads URLs of 8 KiB and more, refusing the over-long value with 400/47 rather than a bare status line', async () => {
      const response = await call(`${base}/3/authentication/token/new?api_key=${key}&language=${'x'.repeat(9000)}`)
      expectTmdbError(response, 'INVALID_INPUT')
    })

    it('answers a request the HTTP parser refuses with a TMDB error body', async () => {
      // About the parser, so over a socket.
      const response = await rawCall(base, 'GET', `/3/authentication?api_key=${key}`, { 'X-Big': 'y'.repeat(40_000) })
      expectTmdbError(response, 'INVALID_INPUT')
    })
  })

  describe('the login flow', () => {
    it('token/new returns a 40-hex token, its expiry in TMDB format and the Authentication-Callback header', async () => {
      const response = await call(`${base}/3/authentication/token/new?api_key=${key}`)
      expect(response.status).toBe(200)
      expect(Object.keys(response.body)).toEqual(['success', 'expires_at', 'request_token'])
      expect(response.body.success).toBe(true)
      expect(response.body.request_token).toMatch(/^[0-9a-f]{40}$/)
      expect(response.body.expires_at).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/)
      const expires = Date.parse(response.body.expires_at.replace(' UTC', 'Z').replace(' ', 'T'))
      expect(Math.abs(expires - (Date.now() + 3_600_000))).toBeLessThan(120_000)
      expect(response.headers.get('authentication-callback')).toBe(`${base}/authenticate/${response.body.request_token}`)
    })

    it("validate_with_login works as GET with query parameters and as POST with JSON, returning the token's own expiry", async () => {
      const created = await call(`${base}/3/authentication/token/new?api_key=${key}`)
      const token = created.body.request_token
      const { username, password } = server.user
      const viaGet = await call(
        `${base}/3/authentication/token/validate_with_login?api_key=${key}&username=${encodeURIComponent(username)}&password=${encodeURIComponent(password)}&request_token=${token}`,
      )
      expect(viaGet.status).toBe(200)
      expect(viaGet.body).toEqual({ success: true, expires_at: created.body.expires_at, request_token: token })
      const viaPost = await call(
        `${base}/3/authentication/token/validate_with_login?api_key=${key}`,
        json({ username, password, request_token: token }, { method: 'POST' }),
      )
      expect(viaPost.body).toEqual(viaGet.body)
    })

    it('validate_with_login refuses missing credentials with 400/26 and a missing token with 422/5', async () => {
      const token = await newToken()
      const url = `${base}/3/authentication/token/validate_with_login?api_key=${key}`
      expectTmdbError(await call(url, json({ username: server.user.username, request_token: token }, { method: 'POST' })), 'CREDENTIALS_REQUIRED')
      expectTmdbError(await call(url, json({ password: 'x', request_token: token }, { method: 'POST' })), 'CREDENTIALS_REQUIRED')
      expectTmdbError(await call(url, json({ username: server.user.username, password: server.user.password }, { method: 'POST' })), 'INVALID_PARAMETERS')
    })

    it('validate_with_login gives byte-identical 401/30 for an unknown user and a wrong password', async () => {
      const token = await newToken()
      const url = `${base}/3/authentication/token/validate_with_login?api_key=${key}`
      const unknown = await call(url, json({ username: 'nobody_here', password: 'whatever', request_token: token }, { method: 'POST' }))
      const wrong = await call(url, json({ username: server.user.username, password: 'wrong password', request_token: token }, { method: 'POST' }))
      expectTmdbError(unknown, 'INVALID_LOGIN')
      expect(wrong.text).toBe(unknown.text)
      expect(wrong.status).toBe(unknown.status)
      const headerNames = (h: Headers) => [...h.keys()].filter((name) => name !== 'date').sort()
      expect(headerNames(wrong.headers)).toEqual(headerNames(unknown.headers))
    })

    it('validate_with_login accepts long passwords (64 and 1,000 characters, Unicode) as given', async () => {
      for (const password of ['correct horse battery staple '.repeat(3).slice(0, 64), 'ü😀 long phrase '.repeat(63).slice(0, 1_000)]) {
        const user = await createTestUser(server.core, { password })
        const token = await newToken()
        const url = `${base}/3/authentication/token/validate_with_login?api_key=${key}`
        expectTmdbError(
          await call(url, json({ username: user.username, password: password.slice(0, -1), request_token: token }, { method: 'POST' })),
          'INVALID_LOGIN',
        )
        const validated = await call(url, json({ username: user.username, password, request_token: token }, { method: 'POST' }))
        expect(validated).toMatchObject({ status: 200, body: { success: true, request_token: token } })
      }
    })

    it('validate_with_login refuses, as a wrong password, an account whose stored hash asks for 4 GiB (security.md T30)', async () => {
      const user = await createTestUser(server.core)
      const account = (await server.store.findAccountByUsername(user.username))!
      await server.store.setAccountPassword(account.id, account.passwordHash.replace(/m=\d+/, 'm=4194304'), false, Date.now())
      const rssBefore = process.memoryUsage().rss
      const url = `${base}/3/authentication/token/validate_with_login?api_key=${key}`
      const hostile = await call(url, json({ username: user.username, password: user.password, request_token: await newToken() }, { method: 'POST' }))
      const wrong = await call(url, json({ username: server.user.username, password: 'wrong password', request_token: await newToken() }, { method: 'POST' }))
      expectTmdbError(hostile, 'INVALID_LOGIN')
      expect(hostile.text).toBe(wrong.text)
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(50 * 1024 * 1024)
    })

    it('validate_with_login answers 401/31 for the right password of a disabled account', async () => {
      const user = await createTestUser(server.core)
      await server.core.admin.setUserDisabled(user.username, true)
      const token = await newToken()
      const response = await call(
        `${base}/3/authentication/token/validate_with_login?api_key=${key}`,
        json({ username: user.username, password: user.password, request_token: token }, { method: 'POST' }),
      )
      expectTmdbError(response, 'ACCOUNT_DISABLED')
    })

    it('validate_with_login refuses unknown, malformed, consumed and other-application tokens with 401/33', async () => {
      const url = `${base}/3/authentication/token/validate_with_login?api_key=${key}`
      const creds = { username: server.user.username, password: server.user.password }
      expectTmdbError(await call(url, json({ ...creds, request_token: 'f'.repeat(40) }, { method: 'POST' })), 'INVALID_REQUEST_TOKEN')
      expectTmdbError(await call(url, json({ ...creds, request_token: 'not-a-token' }, { method: 'POST' })), 'INVALID_REQUEST_TOKEN')
      const consumed = await approvedToken()
      expect((await call(`${base}/3/authentication/session/new?api_key=${key}`, json({ request_token: consumed }, { method: 'POST' }))).status).toBe(200)
      expectTmdbError(await call(url, json({ ...creds, request_token: consumed }, { method: 'POST' })), 'INVALID_REQUEST_TOKEN')
      const other = await server.core.admin.createApplication({ name: 'Other' })
      const foreign = await newToken(other.api_key)
      expectTmdbError(await call(url, json({ ...creds, request_token: foreign }, { method: 'POST' })), 'INVALID_REQUEST_TOKEN')
    })

    it('validate_with_login refuses a token already approved for another user with 401/33', async () => {
      const token = await approvedToken()
      const other = await createTestUser(server.core)
      const response = await call(
        `${base}/3/authentication/token/validate_with_login?api_key=${key}`,
        json({ username: other.username, password: other.password, request_token: token }, { method: 'POST' }),
      )
      expectTmdbError(response, 'INVALID_REQUEST_TOKEN')
    })

    it('session/new works as GET with a query parameter and as POST with JSON', async () => {
      const first = await approvedToken()
      const viaGet = await call(`${base}/3/authentication/session/new?api_key=${key}&request_token=${first}`)
      expect(viaGet.status).toBe(200)
      expect(Object.keys(viaGet.body)).toEqual(['success', 'session_id'])
      expect(viaGet.body.session_id).toMatch(/^[0-9a-f]{40}$/)
      const second = await approvedToken()
      const viaPost = await call(`${base}/3/authentication/session/new?api_key=${key}`, json({ request_token: second }, { method: 'POST' }))
      expect(viaPost.body.session_id).toMatch(/^[0-9a-f]{40}$/)
      expect(viaPost.body.session_id).not.toBe(viaGet.body.session_id)
    })

    it('session/new answers 401/17 with failure:true for a pending token', async () => {
      const token = await newToken()
      expectTmdbError(await call(`${base}/3/authentication/session/new?api_key=${key}&request_token=${token}`), 'SESSION_DENIED')
    })

    it('session/new answers 401/33 for unknown, consumed and other-application tokens, and 422/5 without one', async () => {
      expectTmdbError(await call(`${base}/3/authentication/session/new?api_key=${key}&request_token=${'a'.repeat(40)}`), 'INVALID_REQUEST_TOKEN')
      const token = await approvedToken()
      expect((await call(`${base}/3/authentication/session/new?api_key=${key}&request_token=${token}`)).status).toBe(200)
      expectTmdbError(await call(`${base}/3/authentication/session/new?api_key=${key}&request_token=${token}`), 'INVALID_REQUEST_TOKEN')
      const other = await server.core.admin.createApplication({ name: 'Another' })
      const mine = await approvedToken()
      expectTmdbError(await call(`${base}/3/authentication/session/new?api_key=${other.api_key}&request_token=${mine}`), 'INVALID_REQUEST_TOKEN')
      expectTmdbError(await call(`${base}/3/authentication/session/new?api_key=${key}`, { method: 'POST' }), 'INVALID_PARAMETERS')
    })

    it('token/new stores no row: a token is stored only once the user acts on it', async () => {
      const rows = async () => (await server.store.exportAll()).requestTokens.length
      const before = await rows()
      const tokens = await Promise.all(Array.from({ length: 20 }, () => newToken()))
      expect(await rows()).toBe(before)
      expectTmdbError(await call(`${base}/3/authentication/session/new?api_key=${key}&request_token=${tokens[0]}`), 'SESSION_DENIED')
      expect(await rows()).toBe(before)
      const { username, password } = server.user
      const validated = await call(
        `${base}/3/authentication/token/validate_with_login?api_key=${key}`,
        json({ username, password, request_token: tokens[1] }, { method: 'POST' }),
      )
      expect(validated.status).toBe(200)
      expect(await rows()).toBe(before + 1)
    })

    it("session/new and validate_with_login answer 401/33 for a token with one byte changed and for another application's pending token", async () => {
      const token = await newToken()
      const creds = { username: server.user.username, password: server.user.password }
      for (const position of [0, 4, 12, 30, 39]) {
        const tampered = `${token.slice(0, position)}${token[position] === '0' ? '1' : '0'}${token.slice(position + 1)}`
        expectTmdbError(await call(`${base}/3/authentication/session/new?api_key=${key}&request_token=${tampered}`), 'INVALID_REQUEST_TOKEN')
        expectTmdbError(
          await call(`${base}/3/authentication/token/validate_with_login?api_key=${key}`, json({ ...creds, request_token: tampered }, { method: 'POST' })),
          'INVALID_REQUEST_TOKEN',
        )
      }
      const other = await server.core.admin.createApplication({ name: 'Elsewhere' })
      expectTmdbError(await call(`${base}/3/authentication/session/new?api_key=${other.api_key}&request_token=${token}`), 'INVALID_REQUEST_TOKEN')
      expectTmdbError(
        await call(`${base}/3/authentication/token/validate_with_login?api_key=${other.api_key}`, json({ ...creds, request_token: token }, { method: 'POST' })),
        'INVALID_REQUEST_TOKEN',
      )
      expectTmdbError(await call(`${base}/3/authentication/session/new?api_key=${key}&request_token=${token}`), 'SESSION_DENIED')
    })

    it('session/new gives exactly one session to 50 concurrent callers of one approved token', async () => {
      const token = await approvedToken()
      const responses = await Promise.all(
        Array.from({ length: 50 }, () => call(`${base}/3/authentication/session/new?api_key=${key}`, json({ request_token: token }, { method: 'POST' }))),
      )
      const wins = responses.filter((r) => r.status === 200)
      expect(wins).toHaveLength(1)
      for (const loss of responses.filter((r) => r.status !== 200)) expectTmdbError(loss, 'INVALID_REQUEST_TOKEN')
    })

    it('guest_session/new returns a 32-hex id expiring in 24 hours', async () => {
      const response = await call(`${base}/3/authentication/guest_session/new?api_key=${key}`)
      expect(response.status).toBe(200)
      expect(Object.keys(response.body)).toEqual(['success', 'guest_session_id', 'expires_at'])
      expect(response.body.guest_session_id).toMatch(/^[0-9a-f]{32}$/)
      const expires = Date.parse(response.body.expires_at.replace(' UTC', 'Z').replace(' ', 'T'))
      expect(Math.abs(expires - (Date.now() + 86_400_000))).toBeLessThan(120_000)
      const row = await server.store.findGuestSession(hashSecret(response.body.guest_session_id))
      expect(row).not.toBeNull()
    })
  })

  describe('sessions and the account', () => {
    it("GET /3/account returns the account in TMDB's shape, by session_id", async () => {
      const sessionId = await loginOverHttp(server)
      const response = await call(`${base}/3/account?api_key=${key}&session_id=${sessionId}`)
      expect(response.status).toBe(200)
      expect(Object.keys(response.body)).toEqual(['avatar', 'id', 'iso_639_1', 'iso_3166_1', 'name', 'include_adult', 'username'])
      expect(response.body).toMatchObject({
        avatar: { gravatar: { hash: expect.stringMatching(/^[0-9a-f]{32}$/) }, tmdb: { avatar_path: null } },
        id: server.user.id,
        iso_639_1: 'en',
        iso_3166_1: 'US',
        include_adult: false,
        username: server.user.username,
      })
    })

    it("GET /3/account/{account_id} serves the session's own account and 404/34 for another id", async () => {
      const sessionId = await loginOverHttp(server)
      expect((await call(`${base}/3/account/${server.user.id}?api_key=${key}&session_id=${sessionId}`)).body.id).toBe(server.user.id)
      expectTmdbError(await call(`${base}/3/account/${server.user.id + 1000}?api_key=${key}&session_id=${sessionId}`), 'NOT_FOUND')
    })

    it("GET /3/account answers 401/3 for a missing, unknown, malformed or other application's session", async () => {
      expectTmdbError(await call(`${base}/3/account?api_key=${key}`), 'AUTHENTICATION_FAILED')
      expectTmdbError(await call(`${base}/3/account?api_key=${key}&session_id=${'b'.repeat(40)}`), 'AUTHENTICATION_FAILED')
      expectTmdbError(await call(`${base}/3/account?api_key=${key}&session_id=short`), 'AUTHENTICATION_FAILED')
      const sessionId = await loginOverHttp(server)
      const other = await server.core.admin.createApplication({ name: 'Third' })
      expectTmdbError(await call(`${base}/3/account?api_key=${other.api_key}&session_id=${sessionId}`), 'AUTHENTICATION_FAILED')
    })

    it('GET /3/account refuses 10,000 guessed well-formed session ids with 401/3 (security.md T4)', async () => {
      const guesses = Array.from({ length: 10_000 }, () => randomBytes(20).toString('hex'))
      const statuses = new Map<string, number>()
      // 25 guessers at a time, as a patient attacker would; the API limit is off in this server, so every guess reaches the store.
      for (let i = 0; i < guesses.length; i += 25) {
        const answers = await Promise.all(
          guesses.slice(i, i + 25).map(async (sessionId) => {
            const response = await call(`${base}/3/account?api_key=${key}&session_id=${sessionId}`)
            return `${response.status}/${response.body.status_code}`
          }),
        )
        for (const answer of answers) statuses.set(answer, (statuses.get(answer) ?? 0) + 1)
      }
      expect(Object.fromEntries(statuses)).toEqual({ '401/3': 10_000 })
    }, 120_000)

    it('DELETE session ends it at once; deleting again is 404/37', async () => {
      const sessionId = await loginOverHttp(server)
      const viaQuery = await call(`${base}/3/authentication/session?api_key=${key}&session_id=${sessionId}`, { method: 'DELETE' })
      expect(viaQuery.status).toBe(200)
      expect(viaQuery.text).toBe('{"success":true}')
      expectTmdbError(await call(`${base}/3/account?api_key=${key}&session_id=${sessionId}`), 'AUTHENTICATION_FAILED')
      expectTmdbError(await call(`${base}/3/authentication/session?api_key=${key}&session_id=${sessionId}`, { method: 'DELETE' }), 'SESSION_NOT_FOUND')
    })

    it('DELETE session reads session_id (and api_key) from a JSON body', async () => {
      const sessionId = await loginOverHttp(server)
      const response = await call(`${base}/3/authentication/session`, json({ api_key: key, session_id: sessionId }, { method: 'DELETE' }))
      expect(response.status).toBe(200)
      expectTmdbError(await call(`${base}/3/authentication/session?api_key=${key}`, { method: 'DELETE' }), 'INVALID_PARAMETERS')
    })

    it("DELETE session refuses another application's session with 404/37 and leaves it working", async () => {
      const sessionId = await loginOverHttp(server)
      const other = await server.core.admin.createApplication({ name: 'Fourth' })
      expectTmdbError(
        await call(`${base}/3/authentication/session?api_key=${other.api_key}&session_id=${sessionId}`, { method: 'DELETE' }),
        'SESSION_NOT_FOUND',
      )
      expect((await call(`${base}/3/account?api_key=${key}&session_id=${sessionId}`)).status).toBe(200)
    })

    it('disabling a user ends their sessions at once', async () => {
      const user = await createTestUser(server.core)
      const sessionId = await loginOverHttp(server, user)
      await server.core.admin.setUserDisabled(user.username, true)
      expectTmdbError(await call(`${base}/3/account?api_key=${key}&session_id=${sessionId}`), 'AUTHENTICATION_FAILED')
    })
  })
})
