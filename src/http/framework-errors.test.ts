import { Writable } from 'node:stream'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawCall, startTestServer, type TestServer } from '../test-support/fixtures.js'
import { statusBody } from './responses.js'

// Requests the router itself cannot take (a path escape that does not decode, a path segment longer
// than any parameter may be), over real HTTP: before, Fastify answered them with its own JSON, which
// quoted the whole URL (API key and password included), was not marked no-store, and skipped the
// rate limit and the access log.
describe('a URL the router cannot take', () => {
  let server: TestServer
  let raw: string[]
  const password = 'pw-Secret-Of-The-Caller'
  const longToken = 'a'.repeat(2100)

  beforeAll(async () => {
    raw = []
    const sink = new Writable({
      write(chunk, _encoding, done) {
        raw.push(chunk.toString())
        done()
      },
    })
    // A low API limit with no burst, so that counting can be seen.
    server = await startTestServer({ logger: pino({ level: 'info' }, sink), env: { CINEPASS_RATE_LIMIT: '5', CINEPASS_RATE_LIMIT_BURST: '0' } })
  })
  afterAll(async () => {
    await (server as TestServer | undefined)?.stop() // undefined when beforeAll failed before assigning it
  })

  const logLines = (): Record<string, unknown>[] => raw.map((line) => JSON.parse(line) as Record<string, unknown>)

  /**
   * GETs `target` over a socket, checks what every side answers alike (400, `contentType`, no-store, no
   * secret of the URL in the body), and that it was logged once, with status 400 and no secret.
   */
  async function badRequest(target: string, contentType: string): Promise<Awaited<ReturnType<typeof rawCall>>> {
    const secrets = [server.application.apiKey, password, longToken]
    const before = raw.length
    const answer = await rawCall(server.base, 'GET', target)
    expect(answer.status, target).toBe(400)
    expect(answer.headers.get('content-type')).toBe(contentType)
    expect(answer.headers.get('cache-control')).toBe('no-store')
    for (const secret of secrets) expect(answer.text).not.toContain(secret)
    // The access log line is written once the response has gone.
    await new Promise((resolve) => setTimeout(resolve, 50))
    const requests = logLines()
      .slice(before)
      .filter((line) => line.msg === 'request')
    expect(requests).toEqual([expect.objectContaining({ method: 'GET', status: 400 })])
    for (const secret of secrets) expect(JSON.stringify(requests)).not.toContain(secret)
    return answer
  }

  it('on an API path, answers 400/47 in TMDB format, no-store, without echoing the URL, and logs it redacted', async () => {
    const key = server.application.apiKey
    for (const target of [
      `/3/authentication/token/validate_with_login/%ff?api_key=${key}&password=${password}`,
      `/3/account/${longToken}?api_key=${key}&password=${password}`,
    ]) {
      const answer = await badRequest(target, 'application/json;charset=utf-8')
      expect(answer.headers.get('access-control-allow-origin')).toBe('*')
      expect(answer.body).toEqual(statusBody('INVALID_INPUT'))
    }
  })

  it("elsewhere, answers the website's 400 page with its protective headers, without echoing the URL, and logs it redacted", async () => {
    for (const target of [`/authenticate/${longToken}?password=${password}`, `/login/%ff?password=${password}`]) {
      const answer = await badRequest(target, 'text/html; charset=utf-8')
      expect(answer.headers.get('content-security-policy')).toContain("default-src 'none'")
      expect(answer.headers.get('x-frame-options')).toBe('DENY')
      expect(answer.text).toMatch(/<h1[^>]*>Bad request<\/h1>/)
    }
  })

  it('counts against the API rate limit like any API request', async () => {
    const target = `/3/authentication/token/validate_with_login/%ff?api_key=${server.application.apiKey}`
    // Past the limit within one second (5 a second, no burst): some are refused 429/25.
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const answers = await Promise.all(Array.from({ length: 12 }, () => rawCall(server.base, 'GET', target)))
    expect(answers.map((answer) => answer.status)).toContain(429)
    expect(answers.filter((answer) => answer.status === 429)[0]!.body).toEqual(expect.objectContaining({ status_code: 25 }))
  })
})
