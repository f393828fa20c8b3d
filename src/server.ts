import type { FastifyInstance } from 'fastify'
import pino, { type Logger } from 'pino'
import type { Config } from './config.js'
import { AdminService } from './core/admin-service.js'
import { AuthService } from './core/auth-service.js'
import { systemClock, type Clock } from './core/clock.js'
import type { CoreDeps } from './core/context.js'
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

/** Opens the store named by `database`: a SQLite file path (the default) or, later, a PostgreSQL URL. */
export async function openStore(config: Pick<Config, 'database' | 'sqliteSync'>): Promise<Store> {
  if (/^postgres(ql)?:\/\//.test(config.database)) {
    throw new Error('PostgreSQL support is not built into this version')
  }
  return SqliteStore.open(config.database, { synchronous: config.sqliteSync })
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

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'cinepass' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Belt and braces: nothing should log these fields, and if something does they are masked.
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', '*.password', '*.api_key', '*.session_id', '*.request_token', '*.access_token'],
      censor: '[REDACTED]',
    },
  })
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
  const store = options.store ?? (await openStore(config))
  const limiters = options.overrides?.limiters ?? (await openLimiterBackend({ redisUrl: config.abuse.redisUrl, database: config.database }))
  const core = buildCore(store, config, { ...options.overrides, limiters })
  await core.keys.ensureKey()
  const appOptions = {
    auth: core.auth,
    store,
    publicUrl: config.publicUrl,
    limits: core.deps.limits,
    trustProxy: config.abuse.trustProxy,
    requestTimeoutMs: config.requestTimeoutMs,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.closeGraceMs ? { closeGraceMs: options.closeGraceMs } : {}),
    plugins: [
      (app: FastifyInstance) => registerV4Routes(app, core.v4, core.deps.limits),
      (app: FastifyInstance) => registerWebsite(app, { website: core.website, publicUrl: () => appOptions.publicUrl }),
    ],
  }
  const app = await createApp(appOptions)
  await app.listen({ host: config.host, port: config.port })
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  // Asked for any free port: the public URL learns the one we got.
  if (appOptions.publicUrl.endsWith(':0')) appOptions.publicUrl = `${appOptions.publicUrl.slice(0, -2)}:${port}`
  let closing: Promise<void> | undefined
  return {
    app,
    core,
    store,
    url: `http://${host}:${port}`,
    close: () =>
      (closing ??= (async () => {
        await app.close()
        await store.close()
        // A backend passed in by the caller is the caller's to close.
        if (!options.overrides?.limiters) await limiters.close()
      })()),
  }
}
