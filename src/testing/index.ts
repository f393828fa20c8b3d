/**
 * `cinepass/testing`: a real cinepass server inside a test process, for the tests and CI of TMDB
 * clients. For tests only: its password hashing is deliberately weak (fast), and it can approve
 * request tokens and fail requests on command.
 *
 * ```ts
 * import { startTestServer } from 'cinepass/testing'
 * await using cp = await startTestServer({ fixtures: { apps: [{ name: 'My app' }], users: [{ username: 'alice', password: 'alice-password' }] } })
 * ```
 */
import { Argon2Hasher } from '../core/password.js'
import { loadConfig } from '../config/config.js'
import { openStore, startServer } from '../server.js'
import { approveAs, deny } from './approval.js'
import { TestClock } from './clock.js'
import { PlannedFailures, type Failure } from './fail-next.js'
import { applyFixtures } from './apply-fixtures.js'
import { loadFixtures, type Fixtures } from './fixtures.js'

export { FixtureError, loadFixtures, validateFixtures, type FixtureApp, type Fixtures, type FixtureUser } from './fixtures.js'
export type { Failure } from './fail-next.js'

export interface TestServerOptions {
  /**
   * What the server holds at start: an object or the path of a JSON file. Default: one application
   * ("Test app") and one user (`tester` / `tester-password`); fixtures without applications get that
   * application.
   */
  fixtures?: Fixtures | string
  /** Where the data lives: default `:memory:` (gone at `close()`); a SQLite file path keeps it. */
  database?: string
  /** API requests per second per client address (default 0: no limit; use `failNext` for 429s). */
  rateLimit?: number
}

/** An application of the server, with its credentials. */
export interface TestApplication {
  id: string
  name: string
  apiKey: string
  readAccessToken: string
}

/** A user of the fixtures, with the password they were given (never a password hash). */
export interface TestUser {
  username: string
  password: string
  name: string
  disabled: boolean
  /** TMDB's integer account id (`id` of `/3/account`). */
  id: number
  /** The v4 `account_id`. */
  accountObjectId: string
}

export interface TestServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`; the API is at `url + '/3/…'` and `url + '/4/…'`, the website at the root. */
  url: string
  /** The first application's API key (as the fixtures give it, or generated). */
  apiKey: string
  /** The first application's read access token (for `Authorization: Bearer`). */
  readAccessToken: string
  /** Every application of the fixtures, in order. */
  apps: TestApplication[]
  /** The users of the fixtures, in order, with their passwords as given. */
  users: TestUser[]
  /**
   * Approves a v3 request token (40 hex) or v4 one (a JWT) as `username` (default: the first user
   * not disabled), as a user pressing "Approve" on the website would. Rejects with an `Error` saying
   * why when the user or the token cannot be used.
   */
  approve(requestToken: string, username?: string): Promise<void>
  /** Denies a v3 or v4 request token, as "Deny" on the website would. */
  deny(requestToken: string): Promise<void>
  /** This server's clock: real time plus what `advance(ms)` added (tokens and sessions expire by it). */
  clock: { now(): number; advance(ms: number): void }
  /**
   * The next `times` (default 1) requests to `path` answer `status` with TMDB's error body for
   * `code` (and `Retry-After` for a 429), before credentials are checked; e.g.
   * `{ path: '/3/authentication/token/new', status: 429, code: 25 }`, `503`/`9`, `401`/`7`.
   */
  failNext(failure: Failure): void
  /** Stops the server and drops its in-memory data; safe to call twice. */
  close(): Promise<void>
}

const DEFAULT_FIXTURES: Fixtures = {
  apps: [{ name: 'Test app' }],
  users: [{ username: 'tester', password: 'tester-password' }],
}

/** Starts a cinepass server on 127.0.0.1 (a free port) with the given fixtures. Servers share nothing. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const given = options.fixtures === undefined ? DEFAULT_FIXTURES : loadFixtures(options.fixtures)
  // cp.apiKey is the first application's: fixtures with users only get the default one.
  const fixtures = given.apps?.length ? given : { ...given, apps: DEFAULT_FIXTURES.apps }
  // The environment is spelled out, not read from process.env: a developer's CINEPASS_* settings must not change tests.
  const config = loadConfig({
    CINEPASS_DATABASE: options.database ?? ':memory:',
    CINEPASS_HOST: '127.0.0.1',
    CINEPASS_PORT: '0',
    CINEPASS_RATE_LIMIT: String(options.rateLimit ?? 0),
    CINEPASS_PURGE_INTERVAL: '0',
    CINEPASS_ACCESS_LOG: 'off',
  })
  const clock = new TestClock()
  const failures = new PlannedFailures()
  const server = await startServer(config, {
    store: await openStore(config),
    // Test-only: the weakest argon2id settings, so that creating users and logging in take about a
    // millisecond instead of ten. Never used by `cinepass serve`.
    overrides: { clock, hasher: new Argon2Hasher({ memoryCost: 8, timeCost: 1, parallelism: 1, maxConcurrent: 4, maxQueued: 1000 }) },
    plugins: [(app) => failures.register(app)],
  })
  let applied: Awaited<ReturnType<typeof applyFixtures>>
  try {
    applied = await applyFixtures(server.core, fixtures)
  } catch (error) {
    await server.close()
    throw error
  }
  const apps: TestApplication[] = []
  for (const [i, app] of applied.apps.entries()) {
    if (app.apiKey === null || app.readAccessToken === null) {
      await server.close()
      throw new TypeError(`startTestServer: apps[${i}] already exists in ${config.database} and only its hash is kept; give its "api_key" in the fixtures`)
    }
    apps.push({ id: app.id, name: app.name, apiKey: app.apiKey, readAccessToken: app.readAccessToken })
  }
  const users: TestUser[] = applied.users.map((user, i) => {
    const given = fixtures.users![i]!
    return {
      username: given.username,
      password: given.password,
      name: given.name ?? '',
      disabled: given.disabled ?? false,
      id: user.id,
      accountObjectId: user.accountObjectId,
    }
  })
  const close = (): Promise<void> => server.close()
  return {
    url: server.url,
    apiKey: apps[0]!.apiKey,
    readAccessToken: apps[0]!.readAccessToken,
    apps,
    users,
    approve: async (requestToken, username) => {
      const who = username ?? users.find((user) => !user.disabled)?.username
      if (who === undefined) throw new Error('approve: the fixtures have no user who is not disabled; name one')
      await approveAs(server.core, requestToken, who)
    },
    deny: (requestToken) => deny(server.core, requestToken),
    clock: { now: () => clock.now(), advance: (ms) => clock.advance(ms) },
    failNext: (failure) => failures.add(failure),
    close,
    [Symbol.asyncDispose]: close,
  }
}
