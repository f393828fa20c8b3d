import { availableParallelism } from 'node:os'
import { UsageError } from '../core/errors.js'
import { DEFAULT_HASH_QUEUE, MAX_DEFAULT_HASH_CONCURRENCY } from '../core/hash-limits.js'
import { DEFAULT_ABUSE_SETTINGS, type AbuseSettings } from '../core/rate-limits.js'
import { DEFAULT_MEMORY_LIMITER_KEYS } from '../store/memory-counters.js'
import { wholeNumber, type Raw } from './parse.js'

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

export const DEFAULT_HASH_NICE = 10
// Counts and rates: any whole number up to this (0 turns a limit off where that is allowed).
const MAX_COUNT = 1_000_000_000

/**
 * Password hashes one process runs at once when CINEPASS_HASH_CONCURRENCY is not set: one per core the
 * process may run on (its CPU affinity counts, so a process pinned to one core gets 1), shared among the
 * `processes` serving the port, and at most MAX_DEFAULT_HASH_CONCURRENCY. Hashes beyond the cores only
 * wait for each other, each holding its 19 MiB of argon2 memory meanwhile.
 */
export function defaultHashConcurrency(processes = 1, cores = availableParallelism()): number {
  return Math.max(1, Math.min(MAX_DEFAULT_HASH_CONCURRENCY, Math.floor(cores / processes)))
}

/**
 * Reads the CINEPASS_* abuse settings; a malformed value is a UsageError naming the variable.
 * `processes`: how many processes serve the port (cluster workers), for the defaults they share.
 */
export function loadAbuseConfig(env: Record<string, Raw>, processes = 1): AbuseConfig {
  const d = DEFAULT_ABUSE_SETTINGS
  const n = (name: string, fallback: number, min = 0, max = MAX_COUNT): number => wholeNumber(name, env[name], { min, max }, fallback)
  const trustProxy = (env.CINEPASS_TRUST_PROXY ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
  for (const entry of trustProxy) {
    if (!/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(entry)) {
      throw new UsageError(`CINEPASS_TRUST_PROXY must be a comma-separated list of addresses or CIDRs, not "${env.CINEPASS_TRUST_PROXY}"`)
    }
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
    hashQueue: n('CINEPASS_HASH_QUEUE', DEFAULT_HASH_QUEUE, 0),
    hashNice: n('CINEPASS_HASH_NICE', DEFAULT_HASH_NICE, 0, 19),
  }
}
