import { afterAll, afterEach, beforeAll, describe, expect, expectTypeOf, it } from 'vitest'
import { call, createTestApplication, createTestUser, startTestServer, type TestServer } from '../test-support/fixtures.js'
import { OpenApiValidator } from '../test-support/openapi-validator.js'
// Everything through the public entry point, as a user imports it.
import {
  AuthenticationApi,
  TmdbClientError,
  TmdbError,
  type AccessTokenBody,
  type AccountDetails,
  type AuthenticationApiOptions,
  type GuestSessionResponse,
  type SessionResponse,
  type StatusResponse,
  type SuccessResponse,
  type TokenResponse,
  type TokenResponseWithExpiration,
  type V4AccessTokenResponse,
  type V4RequestTokenResponse,
} from './index.js'

const TMDB_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/

let server: TestServer
let validator: OpenApiValidator
const failures: string[] = []

beforeAll(async () => {
  server = await startTestServer({ env: { CINEPASS_RATE_LIMIT: '0' } })
  validator = new OpenApiValidator((await call(`${server.base}/openapi.json`)).body)
})
afterAll(async () => {
  await (server as TestServer | undefined)?.stop() // undefined when beforeAll failed before assigning it
})
// Every response the client saw must match cinepass's own OpenAPI document.
afterEach(() => {
  expect(failures.splice(0)).toEqual([])
})

function api(options: AuthenticationApiOptions = {}): AuthenticationApi {
  return new AuthenticationApi({ baseUrl: `${server.base}/3`, apiKey: server.application.apiKey, fetch: validator.fetch(failures), ...options })
}

/** The TmdbError a promise rejects with (fails the test when it resolves or throws something else). */
async function tmdbError(promise: Promise<unknown>): Promise<TmdbError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(TmdbError)
  return error as TmdbError
}

async function expectRefusal(promise: Promise<unknown>, httpStatus: number, statusCode: number): Promise<TmdbError> {
  const error = await tmdbError(promise)
  expect({ httpStatus: error.httpStatus, statusCode: error.statusCode }).toEqual({ httpStatus, statusCode })
  expect(error).toBeInstanceOf(TmdbClientError)
  expect(typeof error.statusMessage).toBe('string')
  return error
}

async function approvedToken(client: AuthenticationApi, user = server.user): Promise<string> {
  const { request_token } = await client.getNewAuthenticationToken()
  await client.getValidateAuthenticationTokenWithLogin(user.username, user.password, request_token)
  return request_token
}

describe('AuthenticationApi against cinepass', () => {
  it('runs the seed flow: request token, validate_with_login, session, account, delete', async () => {
    const client = api()
    const token = await client.getNewAuthenticationToken()
    expect(token).toEqual({ success: true, expires_at: expect.stringMatching(TMDB_TIME), request_token: expect.stringMatching(/^[0-9a-f]{40}$/) })

    const validated = await client.getValidateAuthenticationTokenWithLogin(server.user.username, server.user.password, token.request_token)
    expect(validated).toEqual({ success: true, expires_at: token.expires_at, request_token: token.request_token })

    const session = await client.getNewAuthenticationSession(token.request_token)
    expect(session).toEqual({ success: true, session_id: expect.stringMatching(/^[0-9a-f]{40}$/) })

    const account = await client.getAccountDetails(session.session_id)
    expect(account).toMatchObject({ id: server.user.id, username: server.user.username, include_adult: false })
    expect(account.avatar.tmdb.avatar_path).toBeNull()
    expect(await client.getAccountDetails(session.session_id, account.id)).toEqual(account)

    expect(await client.deleteAuthenticationSession(session.session_id)).toEqual({ success: true })
    await expectRefusal(client.getAccountDetails(session.session_id), 401, 3)
  })

  it('validateKey() succeeds with an api_key and with the read access token as bearer', async () => {
    const expected = { success: true, status_code: 1, status_message: 'Success.' }
    expect(await api().validateKey()).toEqual(expected)
    const bearerOnly = api({ apiKey: undefined, accessToken: server.application.readAccessToken })
    expect(await bearerOnly.validateKey()).toEqual(expected)
    expect((await bearerOnly.getNewAuthenticationToken()).success).toBe(true)
  })

  it('validateKey() refuses an unknown key (401/7), a bare key as bearer (401/7) and no credentials (401/7)', async () => {
    await expectRefusal(api({ apiKey: '0'.repeat(32) }).validateKey(), 401, 7)
    await expectRefusal(api({ apiKey: undefined, accessToken: server.application.apiKey }).validateKey(), 401, 7)
    const error = await expectRefusal(api({ apiKey: undefined }).getNewAuthenticationToken(), 401, 7)
    expect(error.statusMessage).toBe('Invalid API key: You must be granted a valid key.')
  })

  it('every method refuses a suspended application with 401/10', async () => {
    const app = await createTestApplication(server.core, 'Suspended app')
    await server.core.admin.setApplicationSuspended(app.apiKey, true)
    const client = api({ apiKey: app.apiKey })
    await expectRefusal(client.validateKey(), 401, 10)
    await expectRefusal(client.getNewAuthenticationToken(), 401, 10)
    await expectRefusal(client.getNewAuthenticationGuestSession(), 401, 10)
    await expectRefusal(client.getNewAuthenticationSession('a'.repeat(40)), 401, 10)
  })

  it('getNewAuthenticationGuestSession() returns a 32-hex guest session that expires in 24 hours', async () => {
    const guest = await api().getNewAuthenticationGuestSession()
    expect(guest).toEqual({ success: true, guest_session_id: expect.stringMatching(/^[0-9a-f]{32}$/), expires_at: expect.stringMatching(TMDB_TIME) })
    const hours = (Date.parse(guest.expires_at.replace(' UTC', 'Z').replace(' ', 'T')) - Date.now()) / 3_600_000
    expect(Math.round(hours)).toBe(24)
  })

  it('getValidateAuthenticationTokenWithLogin() gives every error of wire.md', async () => {
    const client = api()
    const { request_token: token } = await client.getNewAuthenticationToken()
    const wrong = await expectRefusal(client.getValidateAuthenticationTokenWithLogin(server.user.username, 'wrong password', token), 401, 30)
    const unknown = await expectRefusal(client.getValidateAuthenticationTokenWithLogin('nobody-here', 'whatever', token), 401, 30)
    expect(unknown.body).toEqual(wrong.body)
    await expectRefusal(client.getValidateAuthenticationTokenWithLogin('', server.user.password, token), 400, 26)
    await expectRefusal(client.getValidateAuthenticationTokenWithLogin(server.user.username, '', token), 400, 26)
    await expectRefusal(client.getValidateAuthenticationTokenWithLogin(server.user.username, server.user.password, 'f'.repeat(40)), 401, 33)

    const disabled = await createTestUser(server.core)
    await server.core.admin.setUserDisabled(disabled.username, true)
    await expectRefusal(client.getValidateAuthenticationTokenWithLogin(disabled.username, disabled.password, token), 401, 31)

    const other = await createTestApplication(server.core, 'Other app')
    await expectRefusal(api({ apiKey: other.apiKey }).getValidateAuthenticationTokenWithLogin(server.user.username, server.user.password, token), 401, 33)

    const someoneElse = await createTestUser(server.core)
    await approvedToken(client) // the user approves another token; this one is still pending
    await client.getValidateAuthenticationTokenWithLogin(server.user.username, server.user.password, token)
    await expectRefusal(client.getValidateAuthenticationTokenWithLogin(someoneElse.username, someoneElse.password, token), 401, 33)
    expect(await client.getValidateAuthenticationTokenWithLogin(server.user.username, server.user.password, token)).toMatchObject({ request_token: token })
  })

  it('getNewAuthenticationSession() refuses a pending token (401/17 with failure), an unknown one and a used one (401/33)', async () => {
    const client = api()
    const { request_token: pending } = await client.getNewAuthenticationToken()
    const denied = await expectRefusal(client.getNewAuthenticationSession(pending), 401, 17)
    expect(denied.body).toEqual({ success: false, failure: true, status_code: 17, status_message: 'Session denied.' })
    await expectRefusal(client.getNewAuthenticationSession('0'.repeat(40)), 401, 33)
    await expectRefusal(client.getNewAuthenticationSession('not a token'), 401, 33)

    const token = await approvedToken(client)
    await client.getNewAuthenticationSession(token)
    await expectRefusal(client.getNewAuthenticationSession(token), 401, 33)
    const other = await createTestApplication(server.core, 'Third app')
    await expectRefusal(api({ apiKey: other.apiKey }).getNewAuthenticationSession(await approvedToken(client)), 401, 33)
  })

  it("deleteAuthenticationSession() refuses an unknown, a deleted and another application's session with 404/37", async () => {
    const client = api()
    await expectRefusal(client.deleteAuthenticationSession('0'.repeat(40)), 404, 37)
    const { session_id: sessionId } = await client.getNewAuthenticationSession(await approvedToken(client))
    const other = await createTestApplication(server.core, 'Fourth app')
    await expectRefusal(api({ apiKey: other.apiKey }).deleteAuthenticationSession(sessionId), 404, 37)
    await client.deleteAuthenticationSession(sessionId)
    await expectRefusal(client.deleteAuthenticationSession(sessionId), 404, 37)
  })

  it("getAccountDetails() refuses a bad session (401/3) and an account id that is not the session's (404/34)", async () => {
    const client = api()
    await expectRefusal(client.getAccountDetails('0'.repeat(40)), 401, 3)
    await expectRefusal(client.getAccountDetails('garbage'), 401, 3)
    const { session_id: sessionId } = await client.getNewAuthenticationSession(await approvedToken(client))
    await expectRefusal(client.getAccountDetails(sessionId, 999_999), 404, 34)
  })

  it('authenticateUrl() and approveUrl() point at the website of the server they talk to', async () => {
    const client = api()
    const { request_token: token } = await client.getNewAuthenticationToken()
    expect(client.authenticateUrl(token)).toBe(`${server.base}/authenticate/${token}`)
    expect(client.authenticateUrl(token, 'myapp://cb?x=1')).toBe(`${server.base}/authenticate/${token}?redirect_to=myapp%3A%2F%2Fcb%3Fx%3D1`)
    expect(client.approveUrl('a.b.c')).toBe(`${server.base}/auth/access?request_token=a.b.c`)
    const tmdb = new AuthenticationApi({ apiKey: 'k' })
    expect(tmdb.baseUrl).toBe('https://api.themoviedb.org/3')
    expect(tmdb.authenticateUrl('t')).toBe('https://www.themoviedb.org/authenticate/t')
    expect(tmdb.approveUrl('t')).toBe('https://www.themoviedb.org/auth/access?request_token=t')
  })

  it('the wire fields the client sends reach cinepass in every credential location it supports', async () => {
    // The bearer and api_key together: both must be valid, and they are.
    const both = api({ accessToken: server.application.readAccessToken })
    expect((await both.getNewAuthenticationSession(await approvedToken(both))).success).toBe(true)
  })
})

describe('cinepass/client types', () => {
  it('the methods resolve to the wire models', () => {
    const client = new AuthenticationApi()
    /* eslint-disable @typescript-eslint/unbound-method -- expectTypeOf reads the methods' types; none is called */
    expectTypeOf(client.deleteAuthenticationSession).parameters.toEqualTypeOf<[string]>()
    expectTypeOf(client.deleteAuthenticationSession).returns.resolves.toEqualTypeOf<SuccessResponse>()
    expectTypeOf(client.getNewAuthenticationGuestSession).returns.resolves.toEqualTypeOf<GuestSessionResponse>()
    expectTypeOf(client.getNewAuthenticationSession).parameters.toEqualTypeOf<[string]>()
    expectTypeOf(client.getNewAuthenticationSession).returns.resolves.toEqualTypeOf<SessionResponse>()
    expectTypeOf(client.getNewAuthenticationToken).returns.resolves.toEqualTypeOf<TokenResponseWithExpiration>()
    expectTypeOf(client.getValidateAuthenticationTokenWithLogin).parameters.toEqualTypeOf<[string, string, string]>()
    expectTypeOf(client.getValidateAuthenticationTokenWithLogin).returns.resolves.toEqualTypeOf<TokenResponse>()
    expectTypeOf(client.postAuthenticationSessionConvert4).parameters.toEqualTypeOf<[AccessTokenBody]>()
    expectTypeOf(client.postAuthenticationSessionConvert4).returns.resolves.toEqualTypeOf<SessionResponse>()
    expectTypeOf(client.validateKey).returns.resolves.toEqualTypeOf<StatusResponse>()
    expectTypeOf(client.getAccountDetails).returns.resolves.toEqualTypeOf<AccountDetails>()
    expectTypeOf(client.createRequestToken).returns.resolves.toEqualTypeOf<V4RequestTokenResponse>()
    expectTypeOf(client.createAccessToken).returns.resolves.toEqualTypeOf<V4AccessTokenResponse>()
    expectTypeOf(client.deleteAccessToken).returns.resolves.toEqualTypeOf<StatusResponse>()
    expectTypeOf(client.authenticateUrl).returns.toEqualTypeOf<string>()
    expectTypeOf(client.approveUrl).returns.toEqualTypeOf<string>()
    /* eslint-enable @typescript-eslint/unbound-method */
    // The wire models keep TMDB's snake_case names.
    expectTypeOf<TokenResponseWithExpiration>().toEqualTypeOf<{ success: boolean; expires_at: string; request_token: string }>()
    expectTypeOf<SessionResponse>().toEqualTypeOf<{ success: boolean; session_id: string }>()
    expectTypeOf<GuestSessionResponse>().toEqualTypeOf<{ success: boolean; guest_session_id: string; expires_at: string }>()
    expectTypeOf<AccessTokenBody>().toEqualTypeOf<{ access_token: string }>()
    expectTypeOf<TmdbError['statusCode']>().toEqualTypeOf<number | null>()
    expectTypeOf<TmdbError['retryAfter']>().toEqualTypeOf<number | undefined>()
  })
})
