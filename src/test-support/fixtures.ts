import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { loadConfig, type Config } from '../config/config.js'
import { ManualClock } from '../core/clock.js'
import type { Store } from '../core/store.js'
import { canonicalUrl } from '../http/paths.js'
import { buildCore, startServer, type Core, type CoreOverrides, type RunningServer } from '../server.js'
import { SqliteStore } from '../store/sqlite/sqlite-store.js'
import { checkApiResponse } from './openapi-validator.js'
import { createTemporaryPostgresDatabase, postgresSkipReason } from './postgres.js'

/** A fresh temporary folder, removed by the returned cleanup. */
export function temporaryDirectory(prefix = 'cinepass-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

export type BackendKind = 'sqlite' | 'postgres'

/**
 * The store backends a suite runs on: SQLite always, PostgreSQL when the test server answers. Outside CI
 * a missing PostgreSQL is skipped with the reason printed; in CI it fails the suite.
 */
export async function testBackends(suite: string): Promise<BackendKind[]> {
  return (await postgresSkipReason(suite)) === null ? ['sqlite', 'postgres'] : ['sqlite']
}

/** A real SQLite file in a temporary folder. */
export function temporarySqliteStore(): { store: SqliteStore; path: string; remove: () => Promise<void> } {
  const dir = temporaryDirectory()
  const path = join(dir.path, 'cinepass.db')
  const store = SqliteStore.open(path)
  return {
    store,
    path,
    remove: async () => {
      await store.close()
      dir.remove()
    },
  }
}

export interface TestApplication {
  id: string
  apiKey: string
  readAccessToken: string
}

export interface TestUser {
  id: number
  username: string
  password: string
}

/** Registers an application through the admin service, as `cinepass apps create` does. */
export async function createTestApplication(core: Core, name = 'Test app'): Promise<TestApplication> {
  const created = await core.admin.createApplication({ name })
  return { id: created.id, apiKey: created.api_key, readAccessToken: created.read_access_token }
}

let userCounter = 0

/** Creates a user with a known password, as `cinepass users create` does. */
export async function createTestUser(core: Core, overrides: { username?: string; password?: string; email?: string } = {}): Promise<TestUser> {
  userCounter += 1
  const username = overrides.username ?? `user${userCounter}_${process.pid}`
  const password = overrides.password ?? `pw-${userCounter}-correct horse`
  const account = await core.admin.createUser({ username, password, name: `User ${userCounter}`, email: overrides.email ?? `${username}@example.com` })
  return { id: account.id, username: account.username, password }
}

/** A core over a given store with a manual clock: for rule tests. */
export function testCore(store: Store, overrides: CoreOverrides & { config?: Partial<Config> } = {}): Core & { clock: ManualClock } {
  const clock = overrides.clock instanceof ManualClock ? overrides.clock : new ManualClock(Date.UTC(2026, 0, 1, 12))
  const config = { ...loadConfig({}), ...overrides.config }
  return { ...buildCore(store, config, { ...overrides, clock }), clock }
}

export interface TestServer extends RunningServer {
  /** `http://127.0.0.1:PORT` */
  base: string
  application: TestApplication
  user: TestUser
  /** The SQLite file, or the PostgreSQL URL with `backend: 'postgres'`. */
  dbPath: string
  /** Closes the server and removes its database. */
  stop(): Promise<void>
}

// The servers whose `call()`s go through Fastify's inject() instead of a socket, by origin.
const injected = new Map<string, FastifyInstance>()

/**
 * A real cinepass HTTP server on 127.0.0.1 with a fresh SQLite file, one application and one user.
 * `env` is read as the process environment would be (CINEPASS_* settings). With `transport: 'inject'`,
 * `call()` (and so `loginOverHttp()`) reaches this server in-process through Fastify's `inject()`, the
 * same application without a socket (faster, for tests about what is answered, not how it travels);
 * it still listens, for `rawCall()`, `fetch()` and real clients.
 */
export async function startTestServer(
  options: { env?: NodeJS.ProcessEnv; overrides?: CoreOverrides; store?: Store; logger?: Logger; backend?: BackendKind; transport?: 'http' | 'inject' } = {},
): Promise<TestServer> {
  const dir = temporaryDirectory()
  const postgres = options.backend === 'postgres' ? await createTemporaryPostgresDatabase() : undefined
  const dbPath = postgres?.url ?? join(dir.path, 'cinepass.db')
  // The API rate limit is off (wire.md: "0 … for benchmarks, tests") unless a test sets it; the login throttles stay on.
  const config = loadConfig({
    CINEPASS_DATABASE: dbPath,
    CINEPASS_PORT: '0',
    NODE_ENV: 'production',
    CINEPASS_SIGNUP: 'open',
    CINEPASS_RATE_LIMIT: '0',
    ...options.env,
  })
  const server = await startServer(config, {
    ...(options.store ? { store: options.store } : {}),
    ...(options.overrides ? { overrides: options.overrides } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  })
  const application = await createTestApplication(server.core)
  const user = await createTestUser(server.core)
  if (options.transport === 'inject') injected.set(new URL(server.url).origin, server.app)
  return {
    ...server,
    base: server.url,
    application,
    user,
    dbPath,
    stop: async () => {
      injected.delete(new URL(server.url).origin)
      await server.close()
      dir.remove()
      await postgres?.drop()
    },
  }
}

/**
 * fetch() that returns status, headers and the parsed JSON body; to a server started with
 * `transport: 'inject'`, the same request through its `inject()`.
 */
export async function call(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: any; text: string }> {
  const app = injected.get(new URL(url).origin)
  const response = app ? await injectFetch(app, url, init) : await fetch(url, init)
  const text = await response.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  // Every API response a test sees must match /openapi.json, so the document cannot drift.
  checkApiResponse(url, init.method ?? 'GET', response.status, response.headers.get('content-type'), body)
  return { status: response.status, headers: response.headers, body, text }
}

/**
 * Sends `method target` (and `requestBody`) as written, byte for byte (fetch would normalise `//`,
 * `..` or `%33`, and refuses a GET with a body), on its own connection, and returns what `call()`
 * returns. JSON bodies of API paths are checked against
 * /openapi.json like `call()`'s (by the path the server routes `target` to).
 */
export function rawCall(
  base: string,
  method: string,
  target: string,
  headers: Record<string, string> = {},
  requestBody = '',
): Promise<{ status: number; headers: Headers; body: any; text: string }> {
  const { hostname, port } = new URL(base)
  const lines = [
    `${method} ${target} HTTP/1.1`,
    `Host: ${hostname}`,
    'Connection: close',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ]
  if (requestBody !== '') lines.push(`Content-Length: ${Buffer.byteLength(requestBody)}`)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    const chunks: Buffer[] = []
    socket.on('data', (chunk) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      const split = raw.indexOf('\r\n\r\n')
      if (split < 0) return reject(new Error(`no HTTP response to ${method} ${target}`))
      const [statusLine, ...headerLines] = raw.slice(0, split).split('\r\n')
      const responseHeaders = new Headers(
        headerLines.map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()] as [string, string]),
      )
      const text = raw.slice(split + 4)
      let body: unknown
      try {
        body = JSON.parse(text)
      } catch {
        body = undefined
      }
      const status = Number(statusLine?.split(' ')[1])
      try {
        checkApiResponse(`${base}${canonicalUrl(target)}`, method, status, responseHeaders.get('content-type'), body)
        resolve({ status, headers: responseHeaders, body, text })
      } catch (error) {
        reject(error)
      }
    })
    socket.write(`${lines.join('\r\n')}\r\n\r\n${requestBody}`)
  })
}

/** Runs the whole v3 login flow over HTTP and returns the session id. */
export async function loginOverHttp(server: TestServer, user: TestUser = server.user): Promise<string> {
  const key = server.application.apiKey
  const token = (await call(`${server.base}/3/authentication/token/new?api_key=${key}`)).body.request_token as string
  const validated = await call(`${server.base}/3/authentication/token/validate_with_login?api_key=${key}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: user.username, password: user.password, request_token: token }),
  })
  if (validated.status !== 200) throw new Error(`validate_with_login failed: ${validated.text}`)
  const session = await call(`${server.base}/3/authentication/session/new?api_key=${key}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ request_token: token }),
  })
  if (session.status !== 200) throw new Error(`session/new failed: ${session.text}`)
  return session.body.session_id as string
}

/**
 * What `fetch(url, init)` would send, sent through `app.inject()` from 127.0.0.1: the URL as fetch
 * normalises it, its Host, and the Content-Type fetch adds to a string or form body. Redirects are
 * not followed (a test that wants that uses a real socket).
 */
async function injectFetch(app: FastifyInstance, url: string, init: RequestInit): Promise<Response> {
  const target = new URL(url)
  const headers = new Headers(init.headers)
  let payload: string | undefined
  if (typeof init.body === 'string') {
    payload = init.body
    if (!headers.has('content-type')) headers.set('content-type', 'text/plain;charset=UTF-8')
  } else if (init.body instanceof URLSearchParams) {
    payload = init.body.toString()
    if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded;charset=UTF-8')
  } else if (init.body !== undefined && init.body !== null) {
    throw new Error('call() through inject() sends string and URLSearchParams bodies only')
  }
  headers.set('host', target.host)
  const response = await app.inject({
    method: (init.method ?? 'GET').toUpperCase() as 'GET',
    url: target.pathname + target.search,
    headers: Object.fromEntries(headers),
    remoteAddress: '127.0.0.1',
    ...(payload !== undefined ? { payload } : {}),
  })
  const answered = new Headers()
  for (const [name, value] of Object.entries(response.headers)) {
    for (const item of Array.isArray(value) ? value : [value]) if (item !== undefined) answered.append(name, String(item))
  }
  const bodyless = response.statusCode === 204 || response.statusCode === 304 || init.method?.toUpperCase() === 'HEAD'
  return new Response(bodyless ? null : new Uint8Array(response.rawPayload), { status: response.statusCode, headers: answered })
}
