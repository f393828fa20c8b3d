import type { FastifyInstance } from 'fastify'
import { createServer as createNetServer } from 'node:net'
import type { Logger } from 'pino'
import type { Config } from './config/config.js'
import { isPostgresUrl, redactDatabase } from './config/database.js'
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
import { memoryLimiterBackend, openLimiterBackend, type LimiterBackend } from './store/limiters.js'
import { registerV4Routes } from './http/v4-routes.js'
import { SqliteStore } from './store/sqlite/sqlite-store.js'
import { failureReason, StartupError } from './startup-error.js'
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
  options: { logger?: Logger; store?: Store; overrides?: CoreOverrides; closeGraceMs?: number } = {},
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
  options: { logger?: Logger; overrides?: CoreOverrides; closeGraceMs?: number },
  store: Store,
  opened: (() => Promise<void>)[],
): Promise<RunningServer> {
  const limiters = options.overrides?.limiters ?? (await openLimiterBackend({ redisUrl: config.abuse.redisUrl, database: config.database }))
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
  const appOptions = {
    auth: core.auth,
    store,
    publicUrl: config.publicUrl,
    limits: core.deps.limits,
    trustProxy: config.abuse.trustProxy,
    ...(config.metrics ? { metrics: { store, clock: core.deps.clock, hasher: core.deps.hasher } } : {}),
    requestTimeoutMs: config.requestTimeoutMs,
    accessLog: config.accessLog,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.closeGraceMs ? { closeGraceMs: options.closeGraceMs } : {}),
    plugins: [
      (app: FastifyInstance) => registerV4Routes(app, core.v4, core.deps.limits),
      (app: FastifyInstance) => registerWebsite(app, { website: core.website, publicUrl: () => appOptions.publicUrl }),
    ],
  }
  const app = await createApp(appOptions)
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
  if (appOptions.publicUrl.endsWith(':0')) appOptions.publicUrl = `${appOptions.publicUrl.slice(0, -2)}:${port}`
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
