import type { FastifyInstance } from 'fastify'
import pino, { type Logger } from 'pino'
import { isPostgresUrl, type Config } from './config.js'
import { AdminService } from './core/admin-service.js'
import { AuthService } from './core/auth-service.js'
import { systemClock, type Clock } from './core/clock.js'
import type { CoreDeps } from './core/context.js'
import { startPurgeSweep } from './core/purge.js'
import { Argon2Hasher, type PasswordHasher } from './core/password.js'
import { AbuseLimits } from './core/rate-limits.js'
import { cryptoRandom, type RandomSource } from './core/secrets.js'
import { SigningKeys } from './core/signing-keys.js'
import type { Store } from './core/store.js'
import { V4Service } from './core/v4-service.js'
import { DEFAULT_WEB_SESSION_TTL_MS, WebsiteService } from './core/website-service.js'
import { createApp } from './http/app.js'
import { docsRoutes } from './http/docs-routes.js'
import { healthRoutes } from './http/health-routes.js'
import { maskSecretFields } from './http/redact.js'
import { routeGroup, type RouteGroup } from './http/routes.js'
import { v3Routes } from './http/v3-routes.js'
import { v4Routes } from './http/v4-routes.js'
import { LineBlocks } from './log-destination.js'
import { memoryLimiterBackend, openLimiterBackend, type LimiterBackend } from './store/limiters.js'
import { SqliteStore } from './store/sqlite/sqlite-store.js'
import { registerWebsite } from './web/website.js'

/** The services of one cinepass process, built on one store. */
export interface Core {
  deps: CoreDeps
  auth: AuthService
  admin: AdminService
  keys: SigningKeys
  v4: V4Service
  website: WebsiteService
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
  if (isPostgresUrl(config.database)) {
    // Loaded only for PostgreSQL: the driver is memory (about 10 MB resident) a SQLite server never uses.
    const { PostgresStore } = await import('./store/postgres/postgres-store.js')
    return PostgresStore.open(config.database, config.postgres ?? {})
  }
  return SqliteStore.open(config.database, { synchronous: config.sqliteSync, checkpointInBackground: use === 'serve' })
}

export function buildCore(
  store: Store,
  config: Pick<Config, 'lifetimes'> & Partial<Pick<Config, 'signup' | 'abuse'>>,
  overrides: CoreOverrides = {},
): Core {
  const clock = overrides.clock ?? systemClock
  const random = overrides.random ?? cryptoRandom
  const keys = new SigningKeys(store, clock, random)
  const deps: CoreDeps = {
    store,
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
  return { deps, auth, admin, keys, v4, website }
}

// Log lines are written in blocks of about this size (under sonic-boom's 16 KiB write) rather than
// one write each: at thousands of requests a second, a write per line costs more than the request.
// A quiet server's lines still appear within LOG_FLUSH_MS, and everything is flushed on exit.
const LOG_BUFFER_BYTES = 16_000
const LOG_FLUSH_MS = 200

/**
 * The process logger: JSON lines on stdout. Lines are written asynchronously (sonic-boom), so a busy
 * server gathers many request lines into one write instead of one blocking write each; what is left
 * is written when the process exits.
 */
export function createLogger(
  level: string,
  destination: pino.DestinationStream = new LineBlocks(pino.destination({ dest: 1, sync: false }), { blockBytes: LOG_BUFFER_BYTES, flushMs: LOG_FLUSH_MS }),
): Logger {
  return pino({
    level,
    base: { service: 'cinepass' },
    timestamp: isoTimeOfThisMillisecond,
    // Belt and braces: nothing should log a secret-named field, and if something does it is masked.
    // (A pass over the line's keys; pino's path-based redaction cost a tenth of a request's time.)
    formatters: { log: maskSecretFields },
  }, destination)
}

// pino's isoTime, with the text kept for the millisecond it names: a busy server writes several lines
// a millisecond, and formatting the date was a tenth of a line's cost.
let lastTime = { ms: Number.NaN, text: '' }
function isoTimeOfThisMillisecond(): string {
  const ms = Date.now()
  if (ms !== lastTime.ms) lastTime = { ms, text: `,"time":"${new Date(ms).toISOString()}"` }
  return lastTime.text
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

/** Opens the store, builds the services and listens. */
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
  const limiters = options.overrides?.limiters ?? (await openLimiterBackend({ redisUrl: config.abuse.redisUrl, database: config.database, memoryKeys: config.abuse.limiterMemoryKeys }))
  const core = buildCore(store, config, { ...options.overrides, limiters })
  await core.keys.ensureKey()
  // Read at request time: a server asked for port 0 learns its port only once it listens.
  let publicUrl = config.publicUrl
  const urlNow = (): string => publicUrl
  const { auth, v4, website } = core
  const limits = core.deps.limits
  // Every route group of the server, in the one place they are registered.
  const routes: RouteGroup[] = [
    routeGroup(healthRoutes, { store }),
    // prom-client loads only when metrics are on: it is memory a process without them never uses.
    ...(config.metrics
      ? [routeGroup((await import('./http/metrics.js')).metricsRoutes, { store, clock: core.deps.clock, hasher: core.deps.hasher, issuedRequestTokens: () => auth.requestTokens.issuedLive() })]
      : []),
    routeGroup(v3Routes, { auth, limits, publicUrl: urlNow }),
    routeGroup(docsRoutes, { publicUrl: urlNow }),
    routeGroup(v4Routes, { v4, limits }),
    routeGroup(registerWebsite, { website, publicUrl: urlNow }),
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
  })
  await app.listen({ host: config.host, port: config.port })
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
        // A backend passed in by the caller is the caller's to close.
        if (!options.overrides?.limiters) await limiters.close()
      })()),
  }
}
