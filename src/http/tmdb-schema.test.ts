import { Ajv, type ValidateFunction } from 'ajv'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, loginOverHttp, startTestServer, type TestServer } from '../test-support/fixtures.js'
import { TMDB_AUTH_RESPONSE_SCHEMAS } from '../test-support/tmdb-auth-response-schemas.js'

type Schema = Record<string, any>

/**
 * TMDB's schemas list properties but require none; a response missing a field would pass them.
 * Tightened: every listed property is required and no other is allowed, at every depth.
 */
function tighten(schema: Schema): Schema {
  if (schema.type !== 'object' || !schema.properties) return schema
  const properties: Schema = {}
  for (const [name, child] of Object.entries(schema.properties as Schema)) properties[name] = tighten(child as Schema)
  return { type: 'object', properties, required: Object.keys(properties), additionalProperties: false }
}

const ajv = new Ajv({ strict: false })

function validatorFor(path: string, method: string, status: string): ValidateFunction {
  const schema = TMDB_AUTH_RESPONSE_SCHEMAS[`${method.toUpperCase()} ${path} ${status}`]
  if (!schema) throw new Error(`no TMDB schema for ${method} ${path} ${status}`)
  const tight = tighten(schema)
  if (path === '/3/account/{account_id}') {
    // TMDB documents a string, but sends null for a user without an uploaded avatar (wire.md).
    tight.properties.avatar.properties.tmdb.properties.avatar_path = { type: ['string', 'null'] }
  }
  return ajv.compile(tight)
}

function expectConforms(validate: ValidateFunction, body: unknown): void {
  const ok = validate(body)
  expect(validate.errors ?? [], JSON.stringify(body)).toEqual([])
  expect(ok).toBe(true)
}

let server: TestServer
let key: string

beforeAll(async () => {
  server = await startTestServer({ transport: 'inject' })
  key = server.application.apiKey
})

afterAll(async () => {
  await (server as TestServer | undefined)?.stop() // undefined when beforeAll failed before assigning it
})

describe("responses match TMDB's OpenAPI schemas (tightened)", () => {
  it('GET /3/authentication: 200 and 401', async () => {
    expectConforms(validatorFor('/3/authentication', 'get', '200'), (await call(`${server.base}/3/authentication?api_key=${key}`)).body)
    expectConforms(validatorFor('/3/authentication', 'get', '401'), (await call(`${server.base}/3/authentication`)).body)
  })

  it('token/new, validate_with_login, session/new, account and delete, along one login', async () => {
    const token = (await call(`${server.base}/3/authentication/token/new?api_key=${key}`)).body
    expectConforms(validatorFor('/3/authentication/token/new', 'get', '200'), token)
    const validated = await call(`${server.base}/3/authentication/token/validate_with_login?api_key=${key}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: server.user.username, password: server.user.password, request_token: token.request_token }),
    })
    expectConforms(validatorFor('/3/authentication/token/validate_with_login', 'post', '200'), validated.body)
    const session = await call(`${server.base}/3/authentication/session/new?api_key=${key}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ request_token: token.request_token }),
    })
    expectConforms(validatorFor('/3/authentication/session/new', 'post', '200'), session.body)
    const account = await call(`${server.base}/3/account/${server.user.id}?api_key=${key}&session_id=${session.body.session_id}`)
    expectConforms(validatorFor('/3/account/{account_id}', 'get', '200'), account.body)
    const deleted = await call(`${server.base}/3/authentication/session?api_key=${key}&session_id=${session.body.session_id}`, { method: 'DELETE' })
    expectConforms(validatorFor('/3/authentication/session', 'delete', '200'), deleted.body)
  })

  it('guest_session/new', async () => {
    const guest = await call(`${server.base}/3/authentication/guest_session/new?api_key=${key}`)
    expectConforms(validatorFor('/3/authentication/guest_session/new', 'get', '200'), guest.body)
  })

  it('the tightened schemas reject a body with a field missing (the check can fail)', async () => {
    const sessionId = await loginOverHttp(server)
    const account = (await call(`${server.base}/3/account?api_key=${key}&session_id=${sessionId}`)).body
    delete account.username
    expect(validatorFor('/3/account/{account_id}', 'get', '200')(account)).toBe(false)
  })
})
