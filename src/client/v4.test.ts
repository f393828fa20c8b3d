import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { call, createTestApplication, startTestServer, type TestServer } from '../test-support/fixtures.js'
import { launchChromium } from '../test-support/browser.js'
import { OpenApiValidator } from '../test-support/openapi-validator.js'
import { AuthenticationApi, TmdbError, type AuthenticationApiOptions } from './index.js'

let server: TestServer
let validator: OpenApiValidator
let browser: Browser
const failures: string[] = []

beforeAll(async () => {
  server = await startTestServer()
  validator = new OpenApiValidator((await call(`${server.base}/openapi.json`)).body)
  browser = await launchChromium()
}, 60_000)
afterAll(async () => {
  // Each is undefined when beforeAll failed before assigning it.
  await (browser as Browser | undefined)?.close()
  await (server as TestServer | undefined)?.stop()
})
// Every response the client saw must match cinepass's own OpenAPI document.
afterEach(() => {
  expect(failures.splice(0)).toEqual([])
})

/** The application's client for v4: its read access token as the bearer. */
function app(options: AuthenticationApiOptions = {}): AuthenticationApi {
  return new AuthenticationApi({ baseUrl: `${server.base}/3`, accessToken: server.application.readAccessToken, fetch: validator.fetch(failures), ...options })
}

/** The user signs in and approves on the website page, with the controls wire.md names. */
async function signInAndApprove(page: Page, url: string, user = server.user): Promise<void> {
  await page.goto(url)
  await page.getByLabel('Username').fill(user.username)
  await page.getByLabel('Password').fill(user.password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByRole('button', { name: 'Approve' }).click()
}

async function approveOnWebsite(url: string): Promise<void> {
  const page = await browser.newPage()
  try {
    await signInAndApprove(page, url)
    await page.waitForLoadState()
  } finally {
    await page.close()
  }
}

async function refusal(promise: Promise<unknown>): Promise<{ httpStatus: number; statusCode: number | null }> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(TmdbError)
  const { httpStatus, statusCode } = error as TmdbError
  return { httpStatus, statusCode }
}

describe('AuthenticationApi v4 against cinepass', () => {
  it('runs the v4 flow: request token, approval on the website, access token, convert/4, account, logout', async () => {
    const client = app()
    const requested = await client.createRequestToken()
    expect(requested).toEqual({ success: true, status_code: 1, status_message: 'Success.', request_token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/) })
    expect(await refusal(client.createAccessToken(requested.request_token))).toEqual({ httpStatus: 422, statusCode: 41 })

    await approveOnWebsite(client.approveUrl(requested.request_token))
    const access = await client.createAccessToken(requested.request_token)
    expect(access).toEqual({
      success: true,
      status_code: 1,
      status_message: 'Success.',
      access_token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
      account_id: expect.stringMatching(/^[0-9a-f]{24}$/),
    })
    // The request token is used once.
    expect(await refusal(client.createAccessToken(requested.request_token))).toEqual({ httpStatus: 401, statusCode: 33 })

    const { session_id: sessionId } = await client.postAuthenticationSessionConvert4({ access_token: access.access_token })
    expect(sessionId).toMatch(/^[0-9a-f]{40}$/)
    expect(await app({ accessToken: undefined, apiKey: server.application.apiKey }).getAccountDetails(sessionId)).toMatchObject({
      id: server.user.id,
      username: server.user.username,
    })

    expect(await client.deleteAccessToken(access.access_token)).toEqual({
      success: true,
      status_code: 13,
      status_message: 'The item/record was deleted successfully.',
    })
    expect(await refusal(client.postAuthenticationSessionConvert4({ access_token: access.access_token }))).toEqual({ httpStatus: 401, statusCode: 35 })
    expect(await refusal(client.deleteAccessToken(access.access_token))).toEqual({ httpStatus: 401, statusCode: 35 })
  }, 60_000)

  it('createRequestToken(redirectTo) sends the user back to redirect_to after approval', async () => {
    const client = app()
    const { request_token: token } = await client.createRequestToken('https://app.example/v4-callback')
    const page = await browser.newPage()
    const redirected = page.waitForRequest((request) => request.url().startsWith('https://app.example/v4-callback'))
    await page.route('https://app.example/**', (route) => route.fulfill({ status: 200, body: 'back in the app' }))
    await signInAndApprove(page, client.approveUrl(token))
    await redirected
    await page.close()
    expect((await client.createAccessToken(token)).account_id).toMatch(/^[0-9a-f]{24}$/)
  }, 60_000)

  it("createAccessToken() refuses unknown tokens (401/33) and another application's token (401/33)", async () => {
    const client = app()
    expect(await refusal(client.createAccessToken('a.b.c'))).toEqual({ httpStatus: 401, statusCode: 33 })
    const other = await createTestApplication(server.core, 'Other v4 app')
    const { request_token: token } = await app({ accessToken: other.readAccessToken }).createRequestToken()
    expect(await refusal(client.createAccessToken(token))).toEqual({ httpStatus: 401, statusCode: 33 })
  })

  it('postAuthenticationSessionConvert4() refuses a read access token (401/36) and an invalid token (401/35)', async () => {
    const client = app()
    expect(await refusal(client.postAuthenticationSessionConvert4({ access_token: server.application.readAccessToken }))).toEqual({
      httpStatus: 401,
      statusCode: 36,
    })
    expect(await refusal(client.postAuthenticationSessionConvert4({ access_token: 'a.b.c' }))).toEqual({ httpStatus: 401, statusCode: 35 })
    expect(await refusal(client.postAuthenticationSessionConvert4({ access_token: 'not-a-jwt' }))).toEqual({ httpStatus: 401, statusCode: 35 })
  })

  it('v4 calls refuse an API key as bearer (401/7)', async () => {
    expect(await refusal(app({ accessToken: server.application.apiKey }).createRequestToken())).toEqual({ httpStatus: 401, statusCode: 7 })
  })
})
