import { existsSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, createTestUser, startTestServer, testBackends, type TestServer } from '../test-support/fixtures.js'
import { docsScreenshot } from '../test-support/browser.js'
import { newRequestToken, sessionFor } from '../test-support/web-client.js'

const CHROMIUM = '/usr/bin/chromium'

/** A stand-in for the client application's callback URL: it records where the browser landed. */
async function startCallbackServer(): Promise<{ url: string; hits: URL[]; server: Server }> {
  const hits: URL[] = []
  const server = createServer((request, response) => {
    hits.push(new URL(request.url ?? '/', 'http://127.0.0.1'))
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>Client app</title><p>Back in the client app.</p>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, server }
}

describe.each(await testBackends('browser tests'))('the approval website in Chromium on %s', (backend) => {
  let server: TestServer
  let browser: Browser
  let callback: Awaited<ReturnType<typeof startCallbackServer>>

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)`)
    server = await startTestServer({ env: { CINEPASS_SIGNUP: 'open' }, backend })
    callback = await startCallbackServer()
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
  })
  afterAll(async () => {
    // Each is undefined when beforeAll failed before assigning it.
    await (browser as Browser | undefined)?.close()
    await new Promise((resolve) => (callback as typeof callback | undefined)?.server.close(resolve))
    await (server as TestServer | undefined)?.stop()
  })

  /** A fresh browser profile (no cookies) with a phone-sized window. */
  const newPage = async (): Promise<Page> => (await browser.newContext({ viewport: { width: 420, height: 720 } })).newPage()

  const logIn = async (page: Page, user = server.user): Promise<void> => {
    await page.getByLabel('Username').fill(user.username)
    await page.getByLabel('Password').fill(user.password)
    await page.getByRole('button', { name: 'Log in' }).click()
  }

  it('v3 with redirect_to: sign in, approve, land on the callback; session/new succeeds', async () => {
    // Fixed names, so the committed screenshots only change when the pages do.
    const app = await server.core.admin.createApplication({ name: 'Movie Night' })
    const user = await createTestUser(server.core, { username: 'moviefan' })
    const token = await newRequestToken(server, app.api_key)
    const page = await newPage()
    await page.goto(`${server.base}/authenticate/${token}?redirect_to=${encodeURIComponent(`${callback.url}/done?state=42`)}`)
    await expect(page.getByRole('heading', { name: 'Log in' }).isVisible()).resolves.toBe(true)
    // The pages are the same on either backend: one run takes the README's pictures.
    const screenshot = (name: string) => (backend === 'sqlite' ? docsScreenshot(page, name) : page.screenshot())
    await screenshot('sign-in.png')
    await logIn(page, user)
    await page.getByRole('button', { name: 'Approve' }).waitFor()
    expect(await page.locator('h1').innerText()).toContain('Movie Night')
    await screenshot('approve.png')
    await page.getByRole('button', { name: 'Approve' }).click()
    await page.waitForURL((url) => url.href.startsWith(callback.url))
    const landed = new URL(page.url())
    expect(landed.pathname).toBe('/done')
    expect(landed.searchParams.get('state')).toBe('42')
    expect(landed.searchParams.get('request_token')).toBe(token)
    expect(landed.searchParams.get('approved')).toBe('true')
    const session = await sessionFor(server, token, app.api_key)
    expect(session.status).toBe(200)
    expect(session.body.session_id).toMatch(/^[0-9a-f]{40}$/)
    await page.context().close()
  })

  it('v3 with redirect_to: deny lands on the callback with denied=true; session/new gives 17', async () => {
    const token = await newRequestToken(server)
    const page = await newPage()
    await page.goto(`${server.base}/authenticate/${token}?redirect_to=${encodeURIComponent(`${callback.url}/done`)}`)
    await logIn(page)
    await page.getByRole('button', { name: 'Deny' }).click()
    await page.waitForURL((url) => url.href.startsWith(callback.url))
    expect(new URL(page.url()).searchParams.get('denied')).toBe('true')
    const session = await sessionFor(server, token)
    expect(session.status).toBe(401)
    expect(session.body).toMatchObject({ failure: true, status_code: 17 })
    await page.context().close()
  })

  it('v3 without redirect_to: the /allow page carries Authentication-Callback', async () => {
    const token = await newRequestToken(server)
    const page = await newPage()
    await page.goto(`${server.base}/authenticate/${token}`)
    await logIn(page)
    const allowResponse = page.waitForResponse((response) => response.url().endsWith(`/authenticate/${token}/allow`) && response.request().method() === 'GET')
    await page.getByRole('button', { name: 'Approve' }).click()
    const response = await allowResponse
    expect(response.status()).toBe(200)
    const callbackHeader = (await response.allHeaders())['authentication-callback']
    expect(callbackHeader).toBe(`${server.base}/3/authentication/session/new?request_token=${token}`)
    await page.getByRole('heading', { name: 'Access approved' }).waitFor()
    expect((await sessionFor(server, token)).status).toBe(200)
    await page.context().close()
  })

  it('sign-up, then approval', async () => {
    const token = await newRequestToken(server)
    const page = await newPage()
    await page.goto(`${server.base}/authenticate/${token}`)
    await page.getByRole('link', { name: 'Sign up' }).click()
    await page.getByLabel('Username').fill('browser_newcomer')
    await page.getByLabel('Password').fill('a fine long password')
    await page.getByLabel('Email (optional)').fill('newcomer@example.com')
    await page.getByRole('button', { name: 'Sign up' }).click()
    await page.getByRole('button', { name: 'Approve' }).click()
    await page.getByRole('heading', { name: 'Access approved' }).waitFor()
    const session = await sessionFor(server, token)
    expect(session.status).toBe(200)
    const account = await call(`${server.base}/3/account?api_key=${server.application.apiKey}&session_id=${session.body.session_id}`)
    expect(account.body.username).toBe('browser_newcomer')
    await page.context().close()
  })

  it('v4: approve on /auth/access, then access_token and convert/4', async () => {
    const user = await createTestUser(server.core)
    const headers = { authorization: `Bearer ${server.application.readAccessToken}`, 'content-type': 'application/json' }
    const created = await call(`${server.base}/4/auth/request_token`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ redirect_to: `${callback.url}/v4-done` }),
    })
    const requestToken = created.body.request_token as string
    const page = await newPage()
    await page.goto(`${server.base}/auth/access?request_token=${requestToken}`)
    await logIn(page, user)
    await page.getByRole('button', { name: 'Approve' }).click()
    await page.waitForURL((url) => url.href.startsWith(`${callback.url}/v4-done`))
    const access = await call(`${server.base}/4/auth/access_token`, { method: 'POST', headers, body: JSON.stringify({ request_token: requestToken }) })
    expect(access.status).toBe(200)
    const converted = await call(`${server.base}/3/authentication/session/convert/4`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ access_token: access.body.access_token }),
    })
    expect(converted.status).toBe(200)
    const account = await call(`${server.base}/3/account?api_key=${server.application.apiKey}&session_id=${converted.body.session_id}`)
    expect(account.body.username).toBe(user.username)
    await page.context().close()
  })

  it('v4 without redirect_to shows /auth/access/approve', async () => {
    const headers = { authorization: `Bearer ${server.application.readAccessToken}`, 'content-type': 'application/json' }
    const created = await call(`${server.base}/4/auth/request_token`, { method: 'POST', headers })
    const page = await newPage()
    await page.goto(`${server.base}/auth/access?request_token=${created.body.request_token}`)
    await logIn(page)
    await page.getByRole('button', { name: 'Approve' }).click()
    await page.getByRole('heading', { name: 'Access approved' }).waitFor()
    expect(new URL(page.url()).pathname).toBe('/auth/access/approve')
    await page.context().close()
  })
})

describe('the approval website in Chromium with an https public URL', () => {
  let server: TestServer
  let browser: Browser

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)`)
    server = await startTestServer({ env: { CINEPASS_PUBLIC_URL: 'https://auth.example.test' } })
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
  })
  afterAll(async () => {
    // undefined when beforeAll failed before assigning them
    await (browser as Browser | undefined)?.close()
    await (server as TestServer | undefined)?.stop()
  })

  it('keeps its __Host- cookies (Secure, Path=/, no Domain), signs in and approves; a login form opened before signing in is then refused', async () => {
    // Chromium counts http://127.0.0.1 as a secure context, so it takes Secure and __Host- cookies from it.
    const context = await browser.newContext()
    const page = await context.newPage()
    const earlier = await context.newPage()
    await earlier.goto(`${server.base}/login`)
    const token = await newRequestToken(server)
    await page.goto(`${server.base}/authenticate/${token}`)
    await page.getByLabel('Username').fill(server.user.username)
    await page.getByLabel('Password').fill(server.user.password)
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByRole('button', { name: 'Approve' }).waitFor()
    const cookies = await context.cookies()
    expect(cookies.map((cookie) => cookie.name)).toEqual(['__Host-cinepass_session'])
    expect(cookies[0]).toMatchObject({ path: '/', secure: true, httpOnly: true, sameSite: 'Lax' })
    await page.getByRole('button', { name: 'Approve' }).click()
    await page.getByRole('heading', { name: 'Access approved' }).waitFor()
    expect((await sessionFor(server, token)).status).toBe(200)
    // The other tab's form carries a token of the signed-out browser: signed in now, it no longer fits.
    const other = await createTestUser(server.core)
    await earlier.getByLabel('Username').fill(other.username)
    await earlier.getByLabel('Password').fill(other.password)
    await earlier.getByRole('button', { name: 'Log in' }).click()
    await earlier.getByRole('heading', { name: 'Form expired' }).waitFor()
    expect(await server.core.website.accountOf((await context.cookies())[0]!.value)).toMatchObject({ username: server.user.username })
    await context.close()
  })
})
