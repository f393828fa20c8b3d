import { DEFAULT_LIFETIMES, type Lifetimes } from '../core/context.js'
import { loadAbuseConfig, type AbuseConfig } from './abuse.js'
import { DEFAULT_DATABASE, databaseSetting } from './database.js'
import { durationMs, httpUrl, oneOf, onOff, wholeNumber, type Raw } from './parse.js'

/** Every setting of a cinepass process, validated once. */
export interface Config {
  /** A SQLite file path, or a `postgres://` URL. */
  database: string
  host: string
  port: number
  /** Where users reach this server, without a trailing slash. */
  publicUrl: string
  /** Whether the public URL was set (CINEPASS_PUBLIC_URL / --public-url) rather than made from host and port. */
  publicUrlSet: boolean
  lifetimes: Lifetimes
  sqliteSync: 'normal' | 'full'
  /** PostgreSQL connection settings (used only when `database` is a URL). */
  postgres: PostgresSettings
  /** Seconds between in-process purges of expired rows by `serve` (`CINEPASS_PURGE_INTERVAL`, default 300; 0 = off). */
  purgeIntervalSeconds: number
  /** Create and print a demo application and user on a brand-new database (off with NODE_ENV=production or --no-demo). */
  demo: boolean
  logLevel: LogLevel
  /** Rate limits, login throttles, trusted proxies, hashing bounds. */
  abuse: AbuseConfig
  /**
   * Whether the website lets anyone create an account (`CINEPASS_SIGNUP=open|closed`; default open,
   * closed with NODE_ENV=production).
   */
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
  /**
   * Longest SIGTERM/SIGINT wait for requests in flight (logins queued for their hash included) before
   * the process exits 1 anyway (`CINEPASS_DRAIN_TIMEOUT`). A supervisor's stop timeout should exceed it.
   */
  drainTimeoutMs: number
  /** Processes serving the port (`CINEPASS_WORKERS` / `--workers`, default 1: no cluster). */
  workers: number
}

export interface PostgresSettings {
  /** Connections per instance for the store (`CINEPASS_PG_POOL`, default 10); the limiter pool adds 4. */
  poolSize: number
  /** Server-side statement timeout, ms (`CINEPASS_PG_STATEMENT_TIMEOUT`, default 1000). */
  statementTimeoutMs: number
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** Flags given on the command line; they win over the environment. */
export interface ConfigFlags {
  database?: string | undefined
  host?: string | undefined
  port?: string | undefined
  publicUrl?: string | undefined
  demo?: boolean | undefined
  workers?: string | undefined
}

export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_PORT = 8080
// A real client sends a request in milliseconds; one that takes longer holds a connection for nothing.
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000
export const DEFAULT_PG_POOL = 10
export const DEFAULT_PG_STATEMENT_TIMEOUT_MS = 1000
export const DEFAULT_PURGE_INTERVAL_SECONDS = 300
export const MAX_WORKERS = 64

/**
 * The configuration of a cinepass process from its environment and flags. `processes`: how many
 * processes serve the port, which share some defaults (password hashes at once); by default the
 * `workers` setting. A malformed setting is a UsageError naming it, in one line.
 */
export function loadConfig(env: Record<string, Raw>, flags: ConfigFlags = {}, processes?: number): Config {
  const host = given(flags.host ?? env.CINEPASS_HOST) ?? DEFAULT_HOST
  const port = wholeNumber('CINEPASS_PORT / --port', flags.port ?? env.CINEPASS_PORT, { min: 0, max: 65535 }, DEFAULT_PORT)
  const publicUrlSetting = given(flags.publicUrl ?? env.CINEPASS_PUBLIC_URL)
  const publicUrl = httpUrl('CINEPASS_PUBLIC_URL / --public-url', publicUrlSetting ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`)
  const workers = wholeNumber('CINEPASS_WORKERS / --workers', flags.workers ?? env.CINEPASS_WORKERS, { min: 1, max: MAX_WORKERS }, 1)
  // Production is safe by default: nobody signs up unless the operator opens it, and no demo account.
  const production = env.NODE_ENV === 'production'
  return {
    database: databaseSetting('CINEPASS_DATABASE / --database', given(flags.database ?? env.CINEPASS_DATABASE) ?? DEFAULT_DATABASE),
    host,
    port,
    publicUrl,
    publicUrlSet: publicUrlSetting !== undefined,
    lifetimes: {
      requestTokenTtlMs: durationMs('CINEPASS_REQUEST_TOKEN_TTL', env.CINEPASS_REQUEST_TOKEN_TTL, DEFAULT_LIFETIMES.requestTokenTtlMs),
      guestSessionTtlMs: durationMs('CINEPASS_GUEST_SESSION_TTL', env.CINEPASS_GUEST_SESSION_TTL, DEFAULT_LIFETIMES.guestSessionTtlMs),
      sessionTtlMs: env.CINEPASS_SESSION_TTL?.trim() ? durationMs('CINEPASS_SESSION_TTL', env.CINEPASS_SESSION_TTL, 0) : DEFAULT_LIFETIMES.sessionTtlMs,
      v4RequestTokenTtlMs: DEFAULT_LIFETIMES.v4RequestTokenTtlMs,
    },
    sqliteSync: oneOf('CINEPASS_SQLITE_SYNC', env.CINEPASS_SQLITE_SYNC, ['normal', 'full'], 'normal'),
    postgres: {
      poolSize: wholeNumber('CINEPASS_PG_POOL', env.CINEPASS_PG_POOL, { min: 1, max: 1000 }, DEFAULT_PG_POOL),
      statementTimeoutMs: wholeNumber(
        'CINEPASS_PG_STATEMENT_TIMEOUT (ms)',
        env.CINEPASS_PG_STATEMENT_TIMEOUT,
        { min: 100, max: 3_600_000 },
        DEFAULT_PG_STATEMENT_TIMEOUT_MS,
      ),
    },
    purgeIntervalSeconds: wholeNumber(
      'CINEPASS_PURGE_INTERVAL (seconds)',
      env.CINEPASS_PURGE_INTERVAL,
      { min: 0, max: 7 * 24 * 3600 },
      DEFAULT_PURGE_INTERVAL_SECONDS,
    ),
    demo: flags.demo ?? !production,
    logLevel: oneOf('CINEPASS_LOG_LEVEL', env.CINEPASS_LOG_LEVEL, LOG_LEVELS, 'info'),
    abuse: loadAbuseConfig(env, processes ?? workers),
    signup: oneOf('CINEPASS_SIGNUP', env.CINEPASS_SIGNUP, ['open', 'closed'], production ? 'closed' : 'open'),
    metrics: onOff('CINEPASS_METRICS', env.CINEPASS_METRICS, false),
    accessLog: onOff('CINEPASS_ACCESS_LOG', env.CINEPASS_ACCESS_LOG, true),
    requestTimeoutMs: durationMs('CINEPASS_REQUEST_TIMEOUT', env.CINEPASS_REQUEST_TIMEOUT, DEFAULT_REQUEST_TIMEOUT_MS),
    drainTimeoutMs: durationMs('CINEPASS_DRAIN_TIMEOUT', env.CINEPASS_DRAIN_TIMEOUT, DEFAULT_DRAIN_TIMEOUT_MS),
    workers,
  }
}

/** A setting's text, or undefined when it is not set or blank (as every setting reads blank). */
function given(raw: Raw): string | undefined {
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim()
}
