import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, normalize } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, startTestServer, type TestServer } from '../test-support/fixtures.js'
import { launchChromium } from '../test-support/browser.js'
import { OpenApiValidator } from '../test-support/openapi-validator.js'

const DIST = join(import.meta.dirname, '..', '..', 'dist')

let cinepass: TestServer
let site: Server
let siteBase: string
let browser: Browser

/** Another origin: a page and the built client (dist/client, dist/wire), as a web app would ship it. */
async function startSite(): Promise<void> {
  const serve = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = normalize(request.url ?? '/')
    if (path === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>app</title><h1>app</h1>')
      return
    }
    if (/^\/(client|wire)\/[a-z0-9-]+\.js$/.test(path)) {
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(await readFile(join(DIST, path)))
      return
    }
    response.writeHead(404).end()
  }
  // node:http ignores what a request listener returns, so the promise is dropped explicitly.
  site = createServer((request, response) => void serve(request, response))
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve))
  // "localhost" and "127.0.0.1" are different origins, so every API call is cross-origin.
  siteBase = `http://localhost:${(site.address() as AddressInfo).port}`
}

beforeAll(async () => {
  if (!existsSync(join(DIST, 'client', 'index.js'))) throw new Error('dist/client is missing: run `npm run build` first (npm test does)')
  cinepass = await startTestServer()
  await startSite()
  browser = await launchChromium()
}, 60_000)
afterAll(async () => {
  // Each is undefined when beforeAll failed before assigning it.
  await (browser as Browser | undefined)?.close()
  ;(site as Server | undefined)?.closeAllConnections()
  await new Promise((resolve) => (site as Server | undefined)?.close(resolve))
  await (cinepass as TestServer | undefined)?.stop()
})

describe('cinepass/client in a browser', () => {
  it('runs the login flow cross-origin from another site, with api_key and with a bearer (CORS preflights); off the API the browser blocks it', async () => {
    const validator = new OpenApiValidator((await call(`${cinepass.base}/openapi.json`)).body)
    const page = await browser.newPage()
    const checks: Promise<void>[] = []
    const failures: string[] = []
    page.on('response', (response) => {
      const url = new URL(response.url())
      if (!response.url().startsWith(cinepass.base)) return
      // Preflights (POST/DELETE with JSON, a Bearer header) are documented in prose, not as operations.
      if (response.request().method() === 'OPTIONS') return
      checks.push(
        response.json().then(
          (body: unknown) => {
            try {
              validator.check({
                method: response.request().method(),
                url: url.pathname,
                status: response.status(),
                contentType: response.headers()['content-type'] ?? null,
                body,
              })
            } catch (error) {
              failures.push(String(error))
            }
          },
          (error: unknown) => void failures.push(`unreadable body: ${String(error)}`),
        ),
      )
    })
    await page.goto(siteBase)
    const input = {
      baseUrl: `${cinepass.base}/3`,
      apiKey: cinepass.application.apiKey,
      readAccessToken: cinepass.application.readAccessToken,
      user: cinepass.user,
    }
    // Plain JavaScript as a string: the test runner would rewrite a dynamic import() inside a function.
    const flow = `(async ({ baseUrl, apiKey, readAccessToken, user }) => {
      const { AuthenticationApi, TmdbError } = await import('/client/index.js')
      const api = new AuthenticationApi({ baseUrl, apiKey })
      const token = await api.getNewAuthenticationToken()
      await api.getValidateAuthenticationTokenWithLogin(user.username, user.password, token.request_token)
      const session = await api.getNewAuthenticationSession(token.request_token)
      const account = await api.getAccountDetails(session.session_id)
      const deleted = await api.deleteAuthenticationSession(session.session_id)
      const withBearer = await new AuthenticationApi({ baseUrl, accessToken: readAccessToken }).getNewAuthenticationGuestSession()
      let refusal
      try {
        await api.getValidateAuthenticationTokenWithLogin(user.username, 'wrong password', (await api.getNewAuthenticationToken()).request_token)
      } catch (error) {
        refusal = { isTmdbError: error instanceof TmdbError, httpStatus: error.httpStatus, statusCode: error.statusCode }
      }
      // Outside /3 and /4 there is no CORS: the browser hides the answer, and the client says so.
      const blocked = await new AuthenticationApi({ baseUrl: baseUrl.replace(/\\/3$/, '/not-api/3'), apiKey }).validateKey().catch((error) => error.name)
      return { username: account.username, deleted, guest: typeof withBearer.guest_session_id, refusal, blocked, origin: location.origin }
    })(${JSON.stringify(input)})`
    const result = await page.evaluate(flow)
    await Promise.all(checks)
    expect(result).toEqual({
      username: cinepass.user.username,
      deleted: { success: true },
      guest: 'string',
      refusal: { isTmdbError: true, httpStatus: 401, statusCode: 30 },
      blocked: 'TmdbNetworkError',
      origin: siteBase,
    })
    expect(failures).toEqual([])
  }, 60_000)
})
