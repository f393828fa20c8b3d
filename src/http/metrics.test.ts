import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, loginOverHttp, startTestServer, type TestServer } from '../test-support/fixtures.js'
import { sample } from '../test-support/metrics.js'

// One exposition line: a comment (# HELP / # TYPE) or `name{label="value",…} number`.
const LINE =
  /^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf))$/

describe('GET /metrics with CINEPASS_METRICS=on', () => {
  let server: TestServer
  let exposition: string
  let secrets: string[]

  beforeAll(async () => {
    // A low API limit, so that a burst below is refused and the refusals are counted.
    server = await startTestServer({ env: { CINEPASS_METRICS: 'on', CINEPASS_RATE_LIMIT: '20', CINEPASS_RATE_LIMIT_BURST: '0' }, transport: 'inject' })
    const key = server.application.apiKey
    const sessionId = await loginOverHttp(server)
    expect((await call(`${server.base}/3/account?api_key=${key}&session_id=${sessionId}`)).status).toBe(200)
    const guest = (await call(`${server.base}/3/authentication/guest_session/new?api_key=${key}`)).body.guest_session_id as string
    const token = (await call(`${server.base}/3/authentication/token/new?api_key=${key}`)).body.request_token as string
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const burst = await Promise.all(Array.from({ length: 40 }, () => call(`${server.base}/3/authentication/token/new?api_key=${key}&session_id=${sessionId}`)))
    expect(burst.some((answer) => answer.status === 429)).toBe(true)
    secrets = [
      key,
      sessionId,
      guest,
      token,
      server.application.readAccessToken,
      server.user.password,
      ...burst.filter((a) => a.status === 200).map((a) => a.body.request_token as string),
    ]
    const scraped = await fetch(`${server.base}/metrics`)
    expect(scraped.status).toBe(200)
    expect(scraped.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    exposition = await scraped.text()
  }, 60_000)

  afterAll(async () => {
    await (server as TestServer | undefined)?.stop() // undefined when beforeAll failed before assigning it
  })

  it('is a well-formed Prometheus exposition, line by line', () => {
    const lines = exposition.trimEnd().split('\n')
    expect(lines.length).toBeGreaterThan(50)
    // Blank lines between metric families are allowed by the format.
    expect(lines.filter((line) => line !== '' && !LINE.test(line))).toEqual([])
  })

  it('counts requests and their latency by route pattern and status, never by raw URL', () => {
    expect(sample(exposition, 'cinepass_http_requests_total', { route: '/3/authentication/token/new', method: 'GET', status: '200' })).toBeGreaterThanOrEqual(2)
    expect(sample(exposition, 'cinepass_http_requests_total', { route: '/3/account', status: '200' })).toBe(1)
    expect(sample(exposition, 'cinepass_http_request_duration_seconds_count', { route: '/3/authentication/session/new', status: '200' })).toBe(1)
    expect(exposition).not.toMatch(/route="[^"]*\?/)
  })

  it('counts rate-limit rejections, password-hash waits and live credentials', () => {
    expect(sample(exposition, 'cinepass_rate_limit_rejections_total', { route: '/3/authentication/token/new' })).toBeGreaterThan(0)
    expect(sample(exposition, 'cinepass_password_hash_wait_seconds_count')).toBeGreaterThanOrEqual(1)
    expect(sample(exposition, 'cinepass_password_hash_queue_depth')).toBe(0)
    expect(sample(exposition, 'cinepass_live_credentials', { kind: 'session' })).toBe(1)
    expect(sample(exposition, 'cinepass_live_credentials', { kind: 'guest_session' })).toBe(1)
    expect(sample(exposition, 'cinepass_live_credentials', { kind: 'request_token' })).toBeGreaterThanOrEqual(2)
    expect(sample(exposition, 'cinepass_process_resident_memory_bytes')).toBeGreaterThan(0)
  })

  it('contains no API key, token, session id or password that the requests carried', () => {
    expect(secrets.length).toBeGreaterThan(6)
    for (const secret of secrets) expect(exposition.includes(secret), `secret ${secret.slice(0, 4)}… in /metrics`).toBe(false)
  })
})

describe('GET /metrics without CINEPASS_METRICS', () => {
  it('is an unknown path, answered exactly like any other', async () => {
    const server = await startTestServer()
    try {
      const metrics = await call(`${server.base}/metrics`)
      const unknown = await call(`${server.base}/no-such-page`)
      expect(metrics.status).toBe(404)
      expect(metrics.headers.get('content-type')).toBe(unknown.headers.get('content-type'))
      expect(metrics.text).toBe(unknown.text)
    } finally {
      await server.stop()
    }
  })
})
