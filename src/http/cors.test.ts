import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, startTestServer, type TestServer } from '../test-support/fixtures.js'
import { OpenApiValidator } from '../test-support/openapi-validator.js'

let server: TestServer
let validator: OpenApiValidator

beforeAll(async () => {
  server = await startTestServer()
  validator = new OpenApiValidator((await call(`${server.base}/openapi.json`)).body)
})
afterAll(async () => {
  await (server as TestServer | undefined)?.stop() // undefined when beforeAll failed before assigning it
})

const PREFLIGHT = {
  origin: 'https://app.example',
  'access-control-request-method': 'POST',
  'access-control-request-headers': 'authorization, content-type',
}

describe('CORS', () => {
  it.each(['/3/authentication/token/validate_with_login', '/3/authentication/session', '/4/auth/request_token', '/3/no/such/path'])(
    'a preflight to %s is answered without credentials, before the credential check',
    async (path) => {
      const response = await call(`${server.base}${path}`, { method: 'OPTIONS', headers: PREFLIGHT })
      expect(response.status).toBe(200)
      expect(response.headers.get('access-control-allow-origin')).toBe('*')
      expect(response.headers.get('access-control-allow-methods')).toBe('GET, POST, DELETE, OPTIONS')
      expect(response.headers.get('access-control-allow-headers')).toBe('authorization, content-type')
      expect(response.headers.get('content-type')).toBe('application/json;charset=utf-8')
      expect(response.body).toEqual({ success: true, status_code: 1, status_message: 'Success.' })
    },
  )

  it('a preflight with a malformed header list is answered with the default list', async () => {
    const response = await call(`${server.base}/3/authentication`, {
      method: 'OPTIONS',
      headers: { ...PREFLIGHT, 'access-control-request-headers': 'x-a,,(b)' },
    })
    expect(response.headers.get('access-control-allow-headers')).toBe('Authorization, Content-Type, Accept, Accept-Language')
  })

  it('a bare OPTIONS (no preflight headers) is still 401/7 without credentials and 405/42 with them', async () => {
    const anonymous = await call(`${server.base}/3/authentication`, { method: 'OPTIONS' })
    expect([anonymous.status, anonymous.body.status_code]).toEqual([401, 7])
    const keyed = await call(`${server.base}/3/authentication?api_key=${server.application.apiKey}`, { method: 'OPTIONS' })
    expect([keyed.status, keyed.body.status_code]).toEqual([405, 42])
    for (const observed of [anonymous, keyed]) {
      expect(observed.headers.get('access-control-allow-origin')).toBe('*')
      validator.check({
        method: 'OPTIONS',
        url: '/3/authentication',
        status: observed.status,
        contentType: observed.headers.get('content-type'),
        body: observed.body,
      })
    }
  })

  it('API answers, successes and errors alike, allow any origin and expose Retry-After', async () => {
    const headers = { origin: 'https://app.example' }
    const ok = await call(`${server.base}/3/authentication/token/new?api_key=${server.application.apiKey}`, { headers })
    const refused = await call(`${server.base}/3/authentication/token/new?api_key=${'0'.repeat(32)}`, { headers })
    const missing = await call(`${server.base}/3/nothing?api_key=${server.application.apiKey}`, { headers })
    expect([ok.status, refused.status, missing.status]).toEqual([200, 401, 404])
    for (const response of [ok, refused, missing]) {
      expect(response.headers.get('access-control-allow-origin')).toBe('*')
      expect(response.headers.get('access-control-expose-headers')).toBe('Retry-After, Authentication-Callback')
    }
  })

  it('the website and health endpoints carry no CORS headers', async () => {
    const response = await call(`${server.base}/healthz`, { headers: { origin: 'https://app.example' } })
    expect(response.status).toBe(200)
    expect(response.headers.get('access-control-allow-origin')).toBeNull()
  })
})
