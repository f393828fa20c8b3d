import { availableParallelism } from 'node:os'
import { UsageError } from './core/errors.js'
import { DEFAULT_ABUSE_SETTINGS, type AbuseSettings } from './core/rate-limits.js'
import { DEFAULT_MEMORY_LIMITER_KEYS } from './store/memory-counters.js'

/** The abuse-resistance settings of a cinepass process (docs/abuse-resistance.md lists them). */
export interface AbuseConfig {
  limits: AbuseSettings
  /** Proxies whose `X-Forwarded-For` is believed: addresses or CIDRs. Empty: the socket address only. */
  trustProxy: string[]
  /** Redis for limit counters shared by every instance; null: memory (or the database's own store). */
  redisUrl: string | null
  /** Windows each limit keeps at most when its counters are in this process's memory. */
  limiterMemoryKeys: number
  /** Password hashes running at once, and calls allowed to wait for one, before a fast 503. */
  hashConcurrency: number
  hashQueue: number
  /** Nice value (0–19) of the threads password hashes run on; 0 leaves them at the event loop's priority. */
  hashNice: number
}

/**
 * Password hashes one process runs at once when CINEPASS_HASH_CONCURRENCY is not set: one per core the
 * process may run on (its CPU affinity counts, so a process pinned to one core gets 1), shared among the
 * `processes` serving the port, and at most 2. Hashes beyond the cores only wait for each other, each
 * holding its 19 MiB of argon2 memory meanwhile.
 */
export function defaultHashConcurrency(processes = 1, cores = availableParallelism()): number {
  return Math.max(1, Math.min(2, Math.floor(cores / processes)))
}

/**
 * Reads the CINEPASS_* abuse settings; a malformed value is a UsageError naming the variable.
 * `processes`: how many processes serve the port (cluster workers), for the defaults they share.
 */
export function loadAbuseConfig(env: NodeJS.ProcessEnv, processes = 1): AbuseConfig {
  const d = DEFAULT_ABUSE_SETTINGS
  const n = (name: string, fallback: number, min = 0, max = 1_000_000_000): number => {
    const value = env[name]
    if (value === undefined || value.trim() === '') return fallback
    if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
      throw new UsageError(`${name} must be a whole number from ${min} to ${max}`)
    }
    return Number(value)
  }
  const trustProxy = (env.CINEPASS_TRUST_PROXY ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
  for (const entry of trustProxy) {
    if (!/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(entry)) throw new UsageError('CINEPASS_TRUST_PROXY must be a comma-separated list of addresses or CIDRs')
  }
  return {
    limits: {
      apiPerSecond: n('CINEPASS_RATE_LIMIT', d.apiPerSecond),
      apiBurst: n('CINEPASS_RATE_LIMIT_BURST', d.apiBurst),
      requestTokensPerHour: n('CINEPASS_REQUEST_TOKEN_LIMIT', d.requestTokensPerHour),
      guestSessionsPerHour: n('CINEPASS_GUEST_SESSION_LIMIT', d.guestSessionsPerHour),
      sessionConversionsPerHour: n('CINEPASS_CONVERT_LIMIT', d.sessionConversionsPerHour),
      // Login throttles can be tuned but never turned off.
      loginAccountFailuresPerHour: n('CINEPASS_LOGIN_ACCOUNT_FAILURES', d.loginAccountFailuresPerHour, 1),
      loginPairFailures: n('CINEPASS_LOGIN_PAIR_FAILURES', d.loginPairFailures, 1),
      // At most a day: the memory store times windows with setTimeout (which overflows past 24.8 days).
      loginPairWindowSeconds: n('CINEPASS_LOGIN_PAIR_WINDOW', d.loginPairWindowSeconds, 1, 86_400),
      loginAddressFailuresPerHour: n('CINEPASS_LOGIN_ADDRESS_FAILURES', d.loginAddressFailuresPerHour, 20),
      webFormsPerMinute: n('CINEPASS_WEB_FORM_LIMIT', d.webFormsPerMinute),
      signupsPerHour: n('CINEPASS_SIGNUP_LIMIT', d.signupsPerHour),
    },
    trustProxy,
    redisUrl: env.CINEPASS_REDIS_URL?.trim() || null,
    limiterMemoryKeys: n('CINEPASS_LIMITER_MEMORY_KEYS', DEFAULT_MEMORY_LIMITER_KEYS, 1000),
    hashConcurrency: n('CINEPASS_HASH_CONCURRENCY', defaultHashConcurrency(processes), 1),
    hashQueue: n('CINEPASS_HASH_QUEUE', 64, 0),
    hashNice: n('CINEPASS_HASH_NICE', 10, 0, 19),
  }
}
