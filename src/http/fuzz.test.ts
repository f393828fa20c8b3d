import { connect } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TMDB_STATUS } from '../wire/status.js'
import { call, loginOverHttp, startTestServer, type TestServer } from '../test-support/fixtures.js'
import { statusBody } from './responses.js'

// Property-based fuzzing of every API endpoint over real HTTP (raw sockets, so that any byte can be
// sent). CINEPASS_FUZZ_RUNS raises the case count for a nightly run; CI runs 1,000 per endpoint.
const RUNS = Number(process.env.CINEPASS_FUZZ_RUNS ?? 1000)
const ENDPOINTS = [
  '/3/authentication',
  '/3/authentication/token/new',
  '/3/authentication/token/validate_with_login',
  '/3/authentication/session/new',
  '/3/authentication/guest_session/new',
  '/3/authentication/session',
  '/3/authentication/session/convert/4',
  '/3/account',
  '/3/account/1',
  '/4/auth/request_token',
  '/4/auth/access_token',
  '/3/no/such/endpoint',
]
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'get']
const NAMES = [
  'api_key',
  'username',
  'password',
  'request_token',
  'session_id',
  'access_token',
  'redirect_to',
  'language',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
]
const CONTENT_TYPES = [
  null,
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/x-www-form-urlencoded',
  'text/plain',
  'multipart/form-data; boundary=xyz',
  'application/octet-stream',
  'application/json; charset=latin1',
  ';;;',
  'application/x-www-form-urlencoded; charset=utf-16',
]
const CODES = new Set<number>(Object.values(TMDB_STATUS).map((status) => status.status_code))
const RATE_LIMIT_MESSAGE = /^Your request count \(\d+\) is over the allowed limit of \(\d+\)\.$/

let server: TestServer
let sessionId: string
let prototypeKeys: string[]

beforeAll(async () => {
  prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort()
  server = await startTestServer({ env: { CINEPASS_RATE_LIMIT: '0' } })
  sessionId = await loginOverHttp(server)
})
afterAll(async () => {
  await (server as TestServer | undefined)?.stop() // undefined when beforeAll failed before assigning it
})

/** A value a hostile or broken client might send where a string is expected. */
function hostileString(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom('', '\0', 'a\0b', '%00', '%ff%fe', '%C0%AF', '\u202e', '\ud800', 'null', 'true', '[]', '{}', '__proto__', 'a'.repeat(40), '0'.repeat(32)),
    fc.integer({ min: 2040, max: 2060 }).map((n) => 'x'.repeat(n)),
    // Real values now and then, so that the fuzzer also reaches the paths behind the checks.
    fc.constantFrom(server.user.username, server.user.password, server.application.apiKey, sessionId),
    fc.integer({ min: 9000, max: 70_000 }).map((n) => 'y'.repeat(n)),
  )
}

/** A JSON value that is not always a string. */
function hostileJson(): fc.Arbitrary<unknown> {
  return fc.oneof(
    hostileString(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
  )
}

interface FuzzRequest {
  method: string
  query: [string, string][]
  rawQueryBytes: number[] | null
  body:
    | { kind: 'none' }
    | { kind: 'json'; entries: [string, unknown][]; protoText: boolean }
    | { kind: 'form'; entries: [string, string][] }
    | { kind: 'raw'; bytes: number[] }
    | { kind: 'huge'; size: number }
  contentType: string | null
  credential: 'api_key' | 'bearer' | 'bad_bearer' | 'none'
  /** CORS: an Origin, and sometimes a preflight's Access-Control-Request-* headers with hostile values. */
  origin: { requestMethod: string | null; requestHeaders: string | null } | null
}

function fuzzRequest(): fc.Arbitrary<FuzzRequest> {
  const pairs = fc.array(fc.tuple(fc.constantFrom(...NAMES), hostileString()), { maxLength: 4 })
  return fc.record({
    method: fc.constantFrom(...METHODS),
    query: pairs,
    rawQueryBytes: fc.option(
      fc.uint8Array({ minLength: 1, maxLength: 20 }).map((bytes) => [...bytes]),
      { freq: 5 },
    ),
    body: fc.oneof(
      fc.constant({ kind: 'none' as const }),
      fc.record({
        kind: fc.constant('json' as const),
        entries: fc.array(fc.tuple(fc.constantFrom(...NAMES), hostileJson()), { maxLength: 4 }),
        protoText: fc.boolean(),
      }),
      fc.record({ kind: fc.constant('form' as const), entries: pairs }),
      fc.record({ kind: fc.constant('raw' as const), bytes: fc.uint8Array({ maxLength: 64 }).map((bytes) => [...bytes]) }),
      fc.record({ kind: fc.constant('huge' as const), size: fc.integer({ min: 16 * 1024 - 8, max: 40 * 1024 }) }),
    ),
    contentType: fc.constantFrom(...CONTENT_TYPES),
    credential: fc.constantFrom('api_key', 'api_key', 'api_key', 'bearer', 'bad_bearer', 'none'),
    origin: fc.option(
      fc.record({
        requestMethod: fc.option(fc.constantFrom('POST', 'DELETE', 'PUT', 'X')),
        requestHeaders: fc.option(fc.constantFrom('Authorization, Content-Type', 'x-evil\u0001', ',,,', 'a'.repeat(3000))),
      }),
      { freq: 4 },
    ),
  })
}

function encodeBody(request: FuzzRequest): Buffer {
  const { body } = request
  switch (body.kind) {
    case 'none':
      return Buffer.alloc(0)
    case 'json': {
      const object: Record<string, unknown> = Object.create(null)
      for (const [name, value] of body.entries) object[name] = value
      if (body.entries.length > 0 && !Object.hasOwn(object, 'api_key') && request.credential === 'api_key') object.api_key = server.application.apiKey
      let text = JSON.stringify(object)
      // JSON.stringify cannot write a literal "__proto__" key of a plain object; splice one in.
      if (body.protoText)
        text = `{"__proto__":{"polluted":"yes","api_key":"x"},"constructor":{"prototype":{"polluted":"yes"}}${text.length > 2 ? ',' + text.slice(1) : '}'}`
      return Buffer.from(text)
    }
    case 'form':
      return Buffer.from(new URLSearchParams(body.entries).toString())
    case 'raw':
      return Buffer.from(body.bytes)
    case 'huge':
      return Buffer.from(`{"username":"${'z'.repeat(body.size)}"}`)
  }
}

function rawRequest(path: string, request: FuzzRequest): Buffer {
  const query = new URLSearchParams(request.query)
  if (request.credential === 'api_key') query.append('api_key', server.application.apiKey)
  if (request.query.some(([name]) => name === 'session_id') === false && path.startsWith('/3/account')) query.append('session_id', sessionId)
  const queryText = query.toString()
  const head = Buffer.from(`${request.method} ${path}${queryText ? '?' + queryText : ''}`)
  const raw = request.rawQueryBytes ? Buffer.concat([Buffer.from(queryText ? '&' : '?'), Buffer.from(request.rawQueryBytes)]) : Buffer.alloc(0)
  const body = encodeBody(request)
  const headers = ['Host: 127.0.0.1', 'Connection: close', `Content-Length: ${body.length}`]
  if (request.contentType) headers.push(`Content-Type: ${request.contentType}`)
  if (request.credential === 'bearer') headers.push(`Authorization: Bearer ${server.application.readAccessToken}`)
  if (request.origin) {
    headers.push('Origin: https://attacker.example')
    if (request.origin.requestMethod) headers.push(`Access-Control-Request-Method: ${request.origin.requestMethod}`)
    if (request.origin.requestHeaders) headers.push(`Access-Control-Request-Headers: ${request.origin.requestHeaders}`)
  }
  if (request.credential === 'bad_bearer') headers.push('Authorization: Bearer eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0.')
  return Buffer.concat([head, raw, Buffer.from(` HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`), body])
}

interface RawResponse {
  status: number
  headers: Map<string, string>
  body: string
}

function send(bytes: Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const url = new URL(server.base)
    const socket = connect(Number(url.port), url.hostname)
    const chunks: Buffer[] = []
    socket.setTimeout(15_000, () => socket.destroy(new Error('response timeout')))
    socket.on('data', (chunk) => chunks.push(chunk))
    socket.on('error', (error) => {
      // The server may answer and close before reading a huge body; what it answered still counts.
      if ((error as NodeJS.ErrnoException).code === 'ECONNRESET' || (error as NodeJS.ErrnoException).code === 'EPIPE') return
      reject(error)
    })
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1')
      const split = text.indexOf('\r\n\r\n')
      if (split < 0) return reject(new Error(`no HTTP response (${text.length} bytes)`))
      const [statusLine, ...lines] = text.slice(0, split).split('\r\n')
      const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]))
      resolve({ status: Number(statusLine?.split(' ')[1]), headers, body: Buffer.from(text.slice(split + 4), 'latin1').toString('utf8') })
    })
    // No half-close: the request says "Connection: close" and the server ends the connection.
    socket.write(bytes)
  })
}

function checkResponse(request: FuzzRequest, response: RawResponse): void {
  if (response.status >= 500) {
    // The only deliberate 5xx: the hashing queue is full (503/9).
    expect(response.status).toBe(503)
    if (request.method !== 'HEAD') expect(JSON.parse(response.body).status_code).toBe(9)
  }
  expect(response.headers.get('content-type')).toBe('application/json;charset=utf-8')
  // security.md 1H: no API answer, success or refusal, may be stored by a cache.
  expect(response.headers.get('cache-control')).toBe('no-store')
  if (request.method === 'HEAD') {
    // No API route serves HEAD (a GET handler may have side effects): a refusal, headers only.
    expect(response.status).toBeGreaterThanOrEqual(400)
    // A request the HTTP parser refused (bad bytes in the URL) is answered before its method is known.
    if (response.body !== '') expect([response.status, response.body]).toEqual([400, JSON.stringify(statusBody('INVALID_INPUT'))])
    if (response.status === 405) expect(response.headers.get('allow')).toMatch(/^[A-Z]+(, [A-Z]+)*$/)
    return
  }
  const body = JSON.parse(response.body) as Record<string, unknown>
  if (response.status === 200) return
  const code = body.status_code as number
  expect(CODES.has(code)).toBe(true)
  const name = (Object.keys(TMDB_STATUS) as (keyof typeof TMDB_STATUS)[]).find((key) => TMDB_STATUS[key].status_code === code)!
  expect(TMDB_STATUS[name].http).toBe(response.status)
  if (code === 25) {
    expect(body.status_message).toMatch(RATE_LIMIT_MESSAGE)
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
  } else {
    // Exactly the table's body: nothing of the input can be echoed.
    expect(response.body).toBe(JSON.stringify(statusBody(name)))
  }
}

describe('fuzzing every API endpoint (fast-check, real HTTP)', () => {
  for (const path of ENDPOINTS) {
    it(`${path} answers ${RUNS} hostile requests with TMDB error bodies, never a 5xx`, async () => {
      await fc.assert(
        fc.asyncProperty(fuzzRequest(), async (request) => {
          checkResponse(request, await send(rawRequest(path, request)))
        }),
        { numRuns: RUNS },
      )
      expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys)
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      expect((await call(`${server.base}/healthz`)).status).toBe(200)
    }, 600_000)
  }

  it('HEAD never runs a handler: an approved request token survives hostile HEAD session/new requests', async () => {
    const key = server.application.apiKey
    const token = (await call(`${server.base}/3/authentication/token/new?api_key=${key}`)).body.request_token as string
    const { username, password } = server.user
    const validated = await call(`${server.base}/3/authentication/token/validate_with_login?api_key=${key}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password, request_token: token }),
    })
    expect(validated.status).toBe(200)
    const headRequest = fuzzRequest().map((request) => ({
      ...request,
      method: 'HEAD',
      query: [...request.query, ['request_token', token] as [string, string]],
    }))
    await fc.assert(
      fc.asyncProperty(headRequest, async (request) => {
        checkResponse(request, await send(rawRequest('/3/authentication/session/new', request)))
      }),
      { numRuns: Math.min(RUNS, 200) },
    )
    const session = await call(`${server.base}/3/authentication/session/new?api_key=${key}&request_token=${token}`)
    expect(session.status).toBe(200)
    expect(session.body.session_id).toMatch(/^[0-9a-f]{40}$/)
  })

  it('the same parameter in the query, a form body and a JSON body is read from the JSON body only', async () => {
    const key = server.application.apiKey
    const response = await call(`${server.base}/3/authentication/session?api_key=${key}&session_id=${'f'.repeat(40)}`, {
      method: 'DELETE',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ session_id: sessionId }),
    })
    expect(response.body).toEqual({ success: true })
  })
})
