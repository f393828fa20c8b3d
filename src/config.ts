import { loadAbuseConfig, type AbuseConfig } from './abuse-config.js'
import { DEFAULT_LIFETIMES, type Lifetimes } from './core/context.js'
import { UsageError } from './core/errors.js'

/** Every setting of a cinepass process, validated once. */
export interface Config {
  /** A SQLite file path, or a `postgres://` URL. */
  database: string
  host: string
  port: number
  /** Where users reach this server, without a trailing slash. */
  publicUrl: string
  lifetimes: Lifetimes
  sqliteSync: 'normal' | 'full'
  /** PostgreSQL connection settings (used only when `database` is a URL). */
  postgres: PostgresSettings
  /** Seconds between in-process purges of expired rows by `serve` (`CINEPASS_PURGE_INTERVAL`, default 300; 0 = off). */
  purgeIntervalSeconds: number
  /** Create and print a demo application and user on a brand-new database. */
  demo: boolean
  logLevel: string
  /** Rate limits, login throttles, trusted proxies, hashing bounds. */
  abuse: AbuseConfig
  /** Whether the website lets anyone create an account (`CINEPASS_SIGNUP=open|closed`, default open). */
  signup: 'open' | 'closed'
  /** Whether `GET /metrics` answers (`CINEPASS_METRICS=on|off`, default off). */
  metrics: boolean
  /**
   * Whether every request is logged (`CINEPASS_ACCESS_LOG=on|off`, default on); security events and
   * errors are logged either way. Off suits a proxy that keeps its own access log (docs/deployment.md).
   */
  accessLog: boolean
  /** Longest a client may take to send a whole request, or leave its connection silent (`CINEPASS_REQUEST_TIMEOUT`). */
  requestTimeoutMs: number
}

export interface PostgresSettings {
  /** Connections per instance for the store (`CINEPASS_PG_POOL`, default 10); the limiter pool adds 4. */
  poolSize: number
  /** Server-side statement timeout, ms (`CINEPASS_PG_STATEMENT_TIMEOUT`, default 1000). */
  statementTimeoutMs: number
}

/** True when `database` names a PostgreSQL database (a postgres:// or postgresql:// URL) rather than a SQLite file. */
export function isPostgresUrl(database: string): boolean {
  return /^postgres(ql)?:\/\//i.test(database)
}

/** Flags given on the command line; they win over the environment. */
export interface ConfigFlags {
  database?: string | undefined
  host?: string | undefined
  port?: string | undefined
  publicUrl?: string | undefined
  demo?: boolean | undefined
}

export const DEFAULT_DATABASE = 'data/cinepass.db'
// A real client sends a request in milliseconds; one that takes longer holds a connection for nothing.
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000

/**
 * The configuration of a cinepass process from its environment and flags. `processes`: how many
 * processes serve the port (`--workers`), which share some defaults (password hashes at once).
 */
export function loadConfig(env: NodeJS.ProcessEnv, flags: ConfigFlags = {}, processes = 1): Config {
  const host = flags.host ?? env.CINEPASS_HOST ?? '127.0.0.1'
  const port = integer('CINEPASS_PORT / --port', flags.port ?? env.CINEPASS_PORT ?? '8080', 0, 65535)
  const publicUrlSetting = flags.publicUrl ?? env.CINEPASS_PUBLIC_URL
  const publicUrl = (publicUrlSetting ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`).replace(/\/+$/, '')
  if (!/^https?:\/\/[^/]+/.test(publicUrl)) throw new UsageError('CINEPASS_PUBLIC_URL / --public-url must be an http(s) URL')
  const sessionTtl = env.CINEPASS_SESSION_TTL
  const sqliteSync = (env.CINEPASS_SQLITE_SYNC ?? 'normal').toLowerCase()
  if (sqliteSync !== 'normal' && sqliteSync !== 'full') throw new UsageError('CINEPASS_SQLITE_SYNC must be "normal" or "full"')
  return {
    database: flags.database ?? env.CINEPASS_DATABASE ?? DEFAULT_DATABASE,
    host,
    port,
    publicUrl,
    lifetimes: {
      requestTokenTtlMs: seconds('CINEPASS_REQUEST_TOKEN_TTL', env.CINEPASS_REQUEST_TOKEN_TTL, DEFAULT_LIFETIMES.requestTokenTtlMs),
      guestSessionTtlMs: seconds('CINEPASS_GUEST_SESSION_TTL', env.CINEPASS_GUEST_SESSION_TTL, DEFAULT_LIFETIMES.guestSessionTtlMs),
      sessionTtlMs: sessionTtl === undefined || sessionTtl === '' ? null : seconds('CINEPASS_SESSION_TTL', sessionTtl, 0),
      v4RequestTokenTtlMs: DEFAULT_LIFETIMES.v4RequestTokenTtlMs,
    },
    sqliteSync,
    postgres: {
      poolSize: integer('CINEPASS_PG_POOL', env.CINEPASS_PG_POOL ?? '10', 1, 1000),
      statementTimeoutMs: integer('CINEPASS_PG_STATEMENT_TIMEOUT (ms)', env.CINEPASS_PG_STATEMENT_TIMEOUT ?? '1000', 100, 3_600_000),
    },
    purgeIntervalSeconds: integer('CINEPASS_PURGE_INTERVAL (seconds)', env.CINEPASS_PURGE_INTERVAL ?? '300', 0, 7 * 24 * 3600),
    demo: flags.demo ?? env.NODE_ENV !== 'production',
    logLevel: env.CINEPASS_LOG_LEVEL ?? 'info',
    abuse: loadAbuseConfig(env, processes),
    signup: signupSetting(env.CINEPASS_SIGNUP),
    metrics: onOff('CINEPASS_METRICS', env.CINEPASS_METRICS, false),
    accessLog: onOff('CINEPASS_ACCESS_LOG', env.CINEPASS_ACCESS_LOG, true),
    requestTimeoutMs: seconds('CINEPASS_REQUEST_TIMEOUT', env.CINEPASS_REQUEST_TIMEOUT, DEFAULT_REQUEST_TIMEOUT_MS),
  }
}

function onOff(name: string, value: string | undefined, fallback: boolean): boolean {
  const setting = (value ?? '').trim().toLowerCase()
  if (setting === '') return fallback
  if (setting !== 'on' && setting !== 'off') throw new UsageError(`${name} must be "on" or "off"`)
  return setting === 'on'
}

function integer(name: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`${name} must be a whole number, not "${value}"`)
  const parsed = Number(value)
  if (parsed < min || parsed > max) throw new UsageError(`${name} must be between ${min} and ${max}`)
  return parsed
}

function seconds(name: string, value: string | undefined, fallbackMs: number): number {
  if (value === undefined || value === '') return fallbackMs
  return integer(`${name} (seconds)`, value, 1, 10 * 365 * 24 * 3600) * 1000
}

function signupSetting(value: string | undefined): 'open' | 'closed' {
  const setting = (value ?? 'open').trim().toLowerCase() || 'open'
  if (setting !== 'open' && setting !== 'closed') throw new UsageError('CINEPASS_SIGNUP must be "open" or "closed"')
  return setting
}
