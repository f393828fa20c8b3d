import type { FastifyInstance } from 'fastify'
import pino, { type Logger } from 'pino'
import { isPostgresUrl, type Config } from './config.js'
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
import type { Store } from './core/store.js'
import { V4Service } from './core/v4-service.js'
import { DEFAULT_WEB_SESSION_TTL_MS, WebsiteService } from './core/website-service.js'
import { createApp } from './http/app.js'
import { maskSecretFields } from './http/redact.js'
import { LineBlocks } from './log-destination.js'
import { memoryLimiterBackend, openLimiterBackend, type LimiterBackend } from './store/limiters.js'
import { registerV4Routes } from './http/v4-routes.js'
import { SqliteStore } from './store/sqlite/sqlite-store.js'
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
  const account = new AccountService(deps, auth)
  return { deps, auth, admin, keys, v4, website, account }
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
  options: { logger?: Logger; store?: Store; overrides?: CoreOverrides; closeGraceMs?: number } = {},
): Promise<RunningServer> {
  const store = options.store ?? (await openStore(config, 'serve'))
  const limiters = options.overrides?.limiters ?? (await openLimiterBackend({ redisUrl: config.abuse.redisUrl, database: config.database }))
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
    notFoundPage: notFoundPage(),
    plugins: [
      (app: FastifyInstance) => registerV4Routes(app, core.v4, core.deps.limits),
      (app: FastifyInstance) => registerWebsite(app, { website: core.website, account: core.account, publicUrl: () => appOptions.publicUrl }),
    ],
  }
  const app = await createApp(appOptions)
  await app.listen({ host: config.host, port: config.port })
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
        // A backend passed in by the caller is the caller's to close.
        if (!options.overrides?.limiters) await limiters.close()
      })()),
  }
}
