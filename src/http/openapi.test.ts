import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, loginOverHttp, startTestServer, type TestServer } from '../test-support/fixtures.js'
import { launchChromium } from '../test-support/browser.js'
import { OpenApiValidator } from '../test-support/openapi-validator.js'

let server: TestServer
let spec: any
let validator: OpenApiValidator

beforeAll(async () => {
  server = await startTestServer({ transport: 'inject' })
  const response = await call(`${server.base}/openapi.json`)
  expect(response.status).toBe(200)
  spec = response.body
  validator = new OpenApiValidator(spec)
})
afterAll(async () => {
  await (server as TestServer | undefined)?.stop() // undefined when beforeAll failed before assigning it
})

const METHODS = ['get', 'post', 'delete'] as const

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document naming this server, whose every response schema compiles (ajv 2020, strict)', () => {
    expect(spec.openapi).toBe('3.1.0')
    expect(spec.servers).toEqual([{ url: server.base }])
    expect(Object.keys(spec.components.securitySchemes).sort()).toEqual(['api_key', 'bearer'])
    expect(validator.compileAll()).toBeGreaterThan(40)
  })

  it('documents every endpoint of wire.md, with both GET and POST forms where cinepass serves both', () => {
    const operations = Object.entries(spec.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
      METHODS.filter((method) => item[method]).map((method) => `${method.toUpperCase()} ${path}`),
    )
    expect(operations.sort()).toEqual(
      [
        'GET /3/authentication',
        'GET /3/authentication/token/new',
        'GET /3/authentication/token/validate_with_login',
        'POST /3/authentication/token/validate_with_login',
        'GET /3/authentication/session/new',
        'POST /3/authentication/session/new',
        'GET /3/authentication/guest_session/new',
        'DELETE /3/authentication/session',
        'POST /3/authentication/session/convert/4',
        'GET /3/account',
        'GET /3/account/{account_id}',
        'POST /4/auth/request_token',
        'POST /4/auth/access_token',
        'DELETE /4/auth/access_token',
      ].sort(),
    )
  })

  it('every documented operation is served, and its answers to a bare call and a credential-less call match the document', async () => {
    const sessionId = await loginOverHttp(server)
    let checked = 0
    for (const template of Object.keys(spec.paths)) {
      for (const method of METHODS.filter((name) => spec.paths[template][name])) {
        const path = template.replace('{account_id}', String(server.user.id))
        for (const query of [`?api_key=${server.application.apiKey}&session_id=${sessionId}`, '']) {
          const response = await call(`${server.base}${path}${query}`, { method: method.toUpperCase() })
          if (query !== '') expect([404, 405]).not.toContain(response.status)
          validator.check({ method, url: path, status: response.status, contentType: response.headers.get('content-type'), body: response.body })
          checked += 1
        }
      }
    }
    expect(checked).toBe(28)
  })
})

describe('GET /docs', () => {
  let browser: Browser | undefined
  afterAll(async () => {
    await browser?.close()
  })

  it('serves Swagger UI from node_modules under a CSP of its own', async () => {
    const page = await call(`${server.base}/docs`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(page.text).not.toMatch(/https?:\/\//)
    const bundle = await fetch(`${server.base}/docs/swagger-ui-bundle.js`)
    expect([bundle.status, bundle.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8'])
    expect((await call(`${server.base}/docs/other.js`)).status).toBe(404)
    // The CSP belongs to the reference page only.
    expect((await call(`${server.base}/openapi.json`)).headers.get('content-security-policy')).toBeNull()
  })

  it('renders every operation in Chromium with no CSP violation and no request off this server', async () => {
    browser = await launchChromium()
    const page = await browser.newPage()
    const problems: string[] = []
    const foreign: string[] = []
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text())
    })
    page.on('pageerror', (error) => problems.push(error.message))
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`)
    })
    page.on('request', (request) => {
      if (!request.url().startsWith(server.base) && !request.url().startsWith('data:')) foreign.push(request.url())
    })
    await page.addInitScript(() => {
      const violations: string[] = []
      ;(window as unknown as { cspViolations: string[] }).cspViolations = violations
      document.addEventListener('securitypolicyviolation', (event: SecurityPolicyViolationEvent) =>
        violations.push(`${event.violatedDirective} ${event.blockedURI}`),
      )
    })
    await page.goto(`${server.base}/docs`)
    await page.locator('.opblock').first().waitFor({ timeout: 20_000 })
    const summaries = await page.locator('.opblock-summary-path').allTextContents()
    expect(summaries.map((text) => text.replace(/\u200b/g, ''))).toContain('/3/authentication/token/validate_with_login')
    expect(await page.locator('.opblock').count()).toBe(14)
    // Open one operation and let Swagger UI finish drawing (icons, schemas) before reading the violations.
    await page.locator('.opblock-summary').first().click()
    await page.locator('.try-out__btn').first().waitFor({ timeout: 20_000 })
    await page.locator('.models').waitFor({ timeout: 20_000 })
    expect(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)).toEqual([])
    expect(problems).toEqual([])
    expect(foreign).toEqual([])
  }, 60_000)
})
