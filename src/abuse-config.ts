import { UsageError } from './core/errors.js'
import { DEFAULT_ABUSE_SETTINGS, type AbuseSettings } from './core/rate-limits.js'

/** The abuse-resistance settings of a cinepass process (docs/abuse-resistance.md lists them). */
export interface AbuseConfig {
  limits: AbuseSettings
  /** Proxies whose `X-Forwarded-For` is believed: addresses or CIDRs. Empty: the socket address only. */
  trustProxy: string[]
  /** Redis for limit counters shared by every instance; null: memory (or the database's own store). */
  redisUrl: string | null
  /** Password hashes running at once, and calls allowed to wait for one, before a fast 503. */
  hashConcurrency: number
  hashQueue: number
  /** Nice value (0–19) of the threads password hashes run on; 0 leaves them at the event loop's priority. */
  hashNice: number
}

/** Reads the CINEPASS_* abuse settings; a malformed value is a UsageError naming the variable. */
export function loadAbuseConfig(env: NodeJS.ProcessEnv): AbuseConfig {
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
      // Login throttles can be tuned but never turned off.
      loginAccountFailuresPerHour: n('CINEPASS_LOGIN_ACCOUNT_FAILURES', d.loginAccountFailuresPerHour, 1),
      loginPairFailures: n('CINEPASS_LOGIN_PAIR_FAILURES', d.loginPairFailures, 1),
      // At most a day: the memory store times windows with setTimeout (which overflows past 24.8 days).
      loginPairWindowSeconds: n('CINEPASS_LOGIN_PAIR_WINDOW', d.loginPairWindowSeconds, 1, 86_400),
      loginAddressFailuresPerHour: n('CINEPASS_LOGIN_ADDRESS_FAILURES', d.loginAddressFailuresPerHour, 20),
    },
    trustProxy,
    redisUrl: env.CINEPASS_REDIS_URL?.trim() || null,
    hashConcurrency: n('CINEPASS_HASH_CONCURRENCY', 2, 1),
    hashQueue: n('CINEPASS_HASH_QUEUE', 64, 0),
    hashNice: n('CINEPASS_HASH_NICE', 10, 0, 19),
  }
}
