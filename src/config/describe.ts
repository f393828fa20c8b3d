import { isIP } from 'node:net'
import type { Config } from './config.js'
import { isPostgresUrl, redactDatabase } from './database.js'

/** Where rate-limit counters live, for the start-up line: Redis, the PostgreSQL database, or memory. */
export function counterStore(config: Pick<Config, 'abuse' | 'database'>): string {
  if (config.abuse.redisUrl) return `redis ${redactDatabase(config.abuse.redisUrl)}`
  return isPostgresUrl(config.database) ? 'postgres (the database)' : "memory (this process's)"
}

/**
 * Every effective setting by the variable that sets it, secrets redacted (`cinepass config`).
 * Durations are in seconds, as they are given.
 */
export function effectiveSettings(config: Config): Record<string, string | number | boolean> {
  const seconds = (ms: number): number => ms / 1000
  const { limits } = config.abuse
  return {
    CINEPASS_DATABASE: redactDatabase(config.database),
    CINEPASS_HOST: config.host,
    CINEPASS_PORT: config.port,
    CINEPASS_PUBLIC_URL: config.publicUrl,
    CINEPASS_WORKERS: config.workers,
    CINEPASS_SIGNUP: config.signup,
    demo: config.demo,
    CINEPASS_LOG_LEVEL: config.logLevel,
    CINEPASS_ACCESS_LOG: config.accessLog ? 'on' : 'off',
    CINEPASS_METRICS: config.metrics ? 'on' : 'off',
    CINEPASS_REQUEST_TIMEOUT: seconds(config.requestTimeoutMs),
    CINEPASS_DRAIN_TIMEOUT: seconds(config.drainTimeoutMs),
    CINEPASS_REQUEST_TOKEN_TTL: seconds(config.lifetimes.requestTokenTtlMs),
    CINEPASS_GUEST_SESSION_TTL: seconds(config.lifetimes.guestSessionTtlMs),
    CINEPASS_SESSION_TTL: config.lifetimes.sessionTtlMs === null ? 'none' : seconds(config.lifetimes.sessionTtlMs),
    CINEPASS_PURGE_INTERVAL: config.purgeIntervalSeconds,
    CINEPASS_SQLITE_SYNC: config.sqliteSync,
    CINEPASS_PG_POOL: config.postgres.poolSize,
    CINEPASS_PG_STATEMENT_TIMEOUT: config.postgres.statementTimeoutMs,
    CINEPASS_REDIS_URL: config.abuse.redisUrl ? redactDatabase(config.abuse.redisUrl) : 'none',
    counter_store: counterStore(config),
    CINEPASS_TRUST_PROXY: config.abuse.trustProxy.join(',') || 'none',
    CINEPASS_RATE_LIMIT: limits.apiPerSecond,
    CINEPASS_RATE_LIMIT_BURST: limits.apiBurst,
    CINEPASS_REQUEST_TOKEN_LIMIT: limits.requestTokensPerHour,
    CINEPASS_GUEST_SESSION_LIMIT: limits.guestSessionsPerHour,
    CINEPASS_LOGIN_ACCOUNT_FAILURES: limits.loginAccountFailuresPerHour,
    CINEPASS_LOGIN_PAIR_FAILURES: limits.loginPairFailures,
    CINEPASS_LOGIN_PAIR_WINDOW: limits.loginPairWindowSeconds,
    CINEPASS_LOGIN_ADDRESS_FAILURES: limits.loginAddressFailuresPerHour,
    CINEPASS_WEB_FORM_LIMIT: limits.webFormsPerMinute,
    CINEPASS_SIGNUP_LIMIT: limits.signupsPerHour,
    CINEPASS_LIMITER_MEMORY_KEYS: config.abuse.limiterMemoryKeys,
    CINEPASS_HASH_CONCURRENCY: config.abuse.hashConcurrency,
    CINEPASS_HASH_QUEUE: config.abuse.hashQueue,
    CINEPASS_HASH_NICE: config.abuse.hashNice,
  }
}

function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase()
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true
  if (isIP(bare) === 4) return bare.startsWith('127.')
  return bare === '::1'
}

function isUnspecified(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '')
  return bare === '0.0.0.0' || bare === '::' || /^(0+:){7}0+$/.test(bare)
}

/**
 * What is worth a warning before serving: a public URL (it goes into Authentication-Callback and
 * the website's links) that users elsewhere cannot reach, while the server listens for them.
 */
export function startupWarnings(config: Pick<Config, 'host' | 'publicUrl'>): string[] {
  if (isLoopback(config.host)) return []
  const publicHost = new URL(config.publicUrl).hostname
  if (!isUnspecified(publicHost) && !isLoopback(publicHost)) return []
  return [
    `the public URL ${config.publicUrl} cannot be reached from other machines, yet cinepass listens on ${config.host}: ` +
      'set CINEPASS_PUBLIC_URL (or --public-url) to the URL users reach this server at',
  ]
}
