import type { FastifyInstance } from 'fastify'
import { createServer as createNetServer } from 'node:net'
import type { Logger } from 'pino'
import type { Config } from './config/config.js'
import { isPostgresUrl, redactDatabase } from './config/database.js'
import { AccountService } from './core/account-service.js'
import { AdminService } from './core/admin-service.js'
import { AuthService } from './core/auth-service.js'
import { systemClock, type Clock } from './core/clock.js'
import type { CoreDeps } from './core/context.js'
import { startPurgeSweep } from './core/purge.js'
import { Argon2Hasher, type PasswordHasher } from './core/password.js'
import { AbuseLimits } from './core/rate-limits.js'
import { cryptoRandom, type RandomSource } from './core/secrets.js'
import { SigningKeys } from './core/signing-keys.js'
import { withDeletedMeanwhile, type Store } from './core/store.js'
import { V4Service } from './core/v4-service.js'
import { DEFAULT_WEB_SESSION_TTL_MS, WebsiteService } from './core/website-service.js'
import { createApp } from './http/app.js'
import { docsRoutes } from './http/docs-routes.js'
import { healthRoutes } from './http/health-routes.js'
import { routeGroup, type RouteGroup } from './http/routes.js'
import { v3Routes } from './http/v3-routes.js'
import { v4Routes } from './http/v4-routes.js'
import { memoryLimiterBackend, openLimiterBackend, type LimiterBackend } from './store/limiters.js'
import { SqliteStore } from './store/sqlite/sqlite-store.js'
import { failureReason, StartupError } from './startup-error.js'
import { notFoundPage } from './web/pages.js'
import { registerWebsite } from './web/website.js'

/** The services of one cinepass process, built on one store. */
export interface Core {
  deps: CoreDeps
  auth: AuthService
  admin: AdminService
  keys: SigningKeys
  v4: V4Service
  website: WebsiteService
  account: AccountService
}

export interface CoreOverrides {
  clock?: Clock
  random?: RandomSource
  hasher?: PasswordHasher
  /** Where limit counters live; default: this process's memory. */
  limiters?: LimiterBackend
}

/**
 * Opens the store named by `database`: a SQLite file path (the default) or a postgres:// URL, and
 * applies its pending migrations. For a serving process (`use = 'serve'`) SQLite's WAL is
 * checkpointed on a thread of its own.
 */
export async function openStore(
  config: Pick<Config, 'database' | 'sqliteSync'> & Partial<Pick<Config, 'postgres'>>,
  use: 'serve' | 'command' = 'command',
): Promise<Store> {
  try {
    if (isPostgresUrl(config.database)) {
      // Loaded only for PostgreSQL: the driver is memory (about 10 MB resident) a SQLite server never uses.
      const { PostgresStore } = await import('./store/postgres/postgres-store.js')
      return await PostgresStore.open(config.database, config.postgres ?? {})
    }
    return SqliteStore.open(config.database, { synchronous: config.sqliteSync, checkpointInBackground: use === 'serve' })
  } catch (error) {
    throw new StartupError(`cannot open the database ${redactDatabase(config.database)}: ${failureReason(error)}`, error)
  }
}

export function buildCore(store: Store, config: Pick<Config, 'lifetimes'> & Partial<Pick<Config, 'signup' | 'abuse'>>, overrides: CoreOverrides = {}): Core {
  const clock = overrides.clock ?? systemClock
  const random = overrides.random ?? cryptoRandom
  const keys = new SigningKeys(store, clock, random)
  const deps: CoreDeps = {
    store: withDeletedMeanwhile(store),
    clock,
    random,
    hasher: overrides.hasher ?? new Argon2Hasher({ maxConcurrent: config.abuse?.hashConcurrency, maxQueued: config.abuse?.hashQueue }),
    keys,
    lifetimes: config.lifetimes,
    limits: new AbuseLimits((overrides.limiters ?? memoryLimiterBackend()).counters, config.abuse?.limits),
  }
  const auth = new AuthService(deps)
  const admin = new AdminService(deps)
  const v4 = new V4Service(deps, auth)
  const website = new WebsiteService(deps, auth, admin, v4, { signup: config.signup ?? 'open', webSessionTtlMs: DEFAULT_WEB_SESSION_TTL_MS })
  const account = new AccountService(deps, auth)
  return { deps, auth, admin, keys, v4, website, account }
}

export interface RunningServer {
  app: FastifyInstance
  core: Core
  store: Store
  /** The URL the server listens on (with the real port when 0 was asked for). */
  url: string
  /** Stops accepting, finishes requests in flight, closes the store. */
  close(): Promise<void>
}

function listenFailure(config: Pick<Config, 'host' | 'port'>, error: unknown): StartupError {
  const where = config.host.includes(':') ? `[${config.host}]:${config.port}` : `${config.host}:${config.port}`
  return new StartupError(`cannot listen on ${where}: ${failureReason(error)}`, error)
}

/**
 * Fails with the StartupError `startServer` would give when `config`'s address cannot be listened on
 * now (in use, not this machine's, a privileged port), before anything is opened or created.
 */
export async function checkAddressFree(config: Pick<Config, 'host' | 'port'>): Promise<void> {
  if (config.port === 0) return
  const probe = createNetServer()
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject)
      probe.listen({ host: config.host, port: config.port, exclusive: true }, resolve)
    })
  } catch (error) {
    throw listenFailure(config, error)
  } finally {
    await new Promise((resolve) => probe.close(resolve))
  }
}

// How long start-up waits for a Redis to answer before warning and serving with memory counters.
const REDIS_ANSWER_MS = 1000

/**
 * Opens the store, builds the services and listens. A failure to start (the database, the port) is a
 * StartupError naming what failed and why, after everything opened so far is closed again.
 */
export async function startServer(
  config: Config,
  options: {
    logger?: Logger
    store?: Store
    overrides?: CoreOverrides
    closeGraceMs?: number
    /** Registered on the HTTP application after every route and hook of cinepass's own (e.g. the testing kit's). */
    plugins?: ((app: FastifyInstance, core: Core) => void | Promise<void>)[]
  } = {},
): Promise<RunningServer> {
  const store = options.store ?? (await openStore(config, 'serve'))
  const opened: (() => Promise<void>)[] = options.store ? [] : [() => store.close()]
  try {
    return await listen(config, options, store, opened)
  } catch (error) {
    for (const close of opened.reverse()) await close().catch(() => {})
    throw error
  }
}

async function listen(
  config: Config,
  options: { logger?: Logger; overrides?: CoreOverrides; closeGraceMs?: number; plugins?: ((app: FastifyInstance, core: Core) => void | Promise<void>)[] },
  store: Store,
  opened: (() => Promise<void>)[],
): Promise<RunningServer> {
  const limiters =
    options.overrides?.limiters ??
    (await openLimiterBackend({ redisUrl: config.abuse.redisUrl, database: config.database, memoryKeys: config.abuse.limiterMemoryKeys }))
  // A backend passed in by the caller is the caller's to close.
  if (!options.overrides?.limiters) opened.push(() => limiters.close())
  const unreachable = await limiters.reachable?.(REDIS_ANSWER_MS)
  if (unreachable) {
    options.logger?.warn(
      `the ${limiters.kind} counter store cannot be reached: ${failureReason(unreachable)}; rate-limit counters are kept in this process's memory until it answers`,
    )
  }
  const core = buildCore(store, config, { ...options.overrides, limiters })
  await core.keys.ensureKey()
  // Read at request time: a server asked for port 0 learns its port only once it listens.
  let publicUrl = config.publicUrl
  const urlNow = (): string => publicUrl
  const { auth, v4, website, account } = core
  const limits = core.deps.limits
  // Every route group of the server, in the one place they are registered.
  const routes: RouteGroup[] = [
    routeGroup(healthRoutes, { store }),
    // prom-client loads only when metrics are on: it is memory a process without them never uses.
    ...(config.metrics
      ? [
          routeGroup((await import('./http/metrics.js')).metricsRoutes, {
            store,
            clock: core.deps.clock,
            hasher: core.deps.hasher,
            issuedRequestTokens: () => auth.requestTokens.issuedLive(),
          }),
        ]
      : []),
    routeGroup(v3Routes, { auth, limits, publicUrl: urlNow }),
    routeGroup(docsRoutes, { publicUrl: urlNow }),
    routeGroup(v4Routes, { v4, limits }),
    routeGroup(registerWebsite, { website, account, publicUrl: urlNow }),
    // Hooks of their own on the whole application (the testing kit's), after cinepass's.
    ...(options.plugins ?? []).map((plugin): RouteGroup => ({ register: async (app) => plugin(app, core) })),
  ]
  const app = await createApp({
    auth,
    routes,
    limits,
    trustProxy: config.abuse.trustProxy,
    requestTimeoutMs: config.requestTimeoutMs,
    accessLog: config.accessLog,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.closeGraceMs ? { closeGraceMs: options.closeGraceMs } : {}),
    notFoundPage: notFoundPage(),
  })
  opened.push(() => app.close())
  try {
    await app.listen({ host: config.host, port: config.port })
  } catch (error) {
    throw listenFailure(config, error)
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  // Asked for any free port: the public URL learns the one we got.
  if (publicUrl.endsWith(':0')) publicUrl = `${publicUrl.slice(0, -2)}:${port}`
  const sweep =
    config.purgeIntervalSeconds > 0
      ? startPurgeSweep({
          store,
          clock: core.deps.clock,
          intervalMs: config.purgeIntervalSeconds * 1000,
          onSwept: (deleted) => {
            if (deleted > 0) options.logger?.info({ deleted }, 'purged expired rows')
          },
          onError: (error) => options.logger?.warn({ err: (error as Error).name }, 'purge sweep failed; retrying at the next interval'),
        })
      : null
  let closing: Promise<void> | undefined
  return {
    app,
    core,
    store,
    url: `http://${host}:${port}`,
    close: () =>
      (closing ??= (async () => {
        await app.close()
        await sweep?.stop()
        await store.close()
        if (!options.overrides?.limiters) await limiters.close()
      })()),
  }
}
