import { createHash } from 'node:crypto'
import ipaddr from 'ipaddr.js'
import { rateLimitMessage } from '../wire/status.js'
import { AuthError } from './errors.js'

/** One fixed-window limit: at most `points` in `durationSeconds`, the window starting at the first point. */
export interface LimitSpec {
  /** Distinguishes the limit's keys in a shared store (`api`, `login_account`, …). */
  name: string
  points: number
  durationSeconds: number
}

/** What a counter says after counting (or looking). */
export interface CounterState {
  /** False when this point went over the limit; the point still counts. */
  allowed: boolean
  /** Points counted in the current window, this one included. */
  count: number
  /** Milliseconds until the window ends. */
  msBeforeNext: number
}

/**
 * A shared counter per key (the port the limiter stores implement). Increments are atomic in every
 * store, so concurrent callers never both get the last point.
 */
export interface Counter {
  consume(key: string): Promise<CounterState>
  /** Takes one point back (an attempt that turned out not to be a failure). */
  refund(key: string): Promise<void>
  /** The current window of `key`, or null when it has none. */
  peek(key: string): Promise<CounterState | null>
  reset(key: string): Promise<void>
}

export type CounterFactory = (spec: LimitSpec) => Counter

/** Every abuse limit's figures; a per-second or per-hour `0` turns that limit off where allowed. */
export interface AbuseSettings {
  /** API requests per second per client address; 0 turns the API limits off (not the login throttles). */
  apiPerSecond: number
  /** Extra requests per 10 s a client may burst above `apiPerSecond`. */
  apiBurst: number
  requestTokensPerHour: number
  guestSessionsPerHour: number
  /** Sessions `convert/4` makes per client address per hour. */
  sessionConversionsPerHour: number
  /** Failed logins per account per hour, from all addresses together. */
  loginAccountFailuresPerHour: number
  /** Failed logins per account and address before a soft lockout of that pair. */
  loginPairFailures: number
  loginPairWindowSeconds: number
  /** Failed logins per address per hour, across all accounts. */
  loginAddressFailuresPerHour: number
  /** Website form posts (`/login`, `/signup`, `/logout` together) per address per minute. */
  webFormsPerMinute: number
  /** Website sign-up attempts per address per hour. */
  signupsPerHour: number
}

export const DEFAULT_ABUSE_SETTINGS: AbuseSettings = {
  apiPerSecond: 40,
  apiBurst: 10,
  requestTokensPerHour: 1000,
  guestSessionsPerHour: 1000,
  sessionConversionsPerHour: 1000,
  loginAccountFailuresPerHour: 100,
  loginPairFailures: 10,
  loginPairWindowSeconds: 15 * 60,
  loginAddressFailuresPerHour: 100,
  webFormsPerMinute: 60,
  signupsPerHour: 10,
}

const HOUR = 3600
// A successful sign-in makes its address "known" to the account for this long (see LoginThrottle).
// Under 24.8 days: the memory store expires keys with setTimeout, which overflows past 2^31 ms.
const KNOWN_ADDRESS_SECONDS = 14 * 24 * HOUR

/**
 * The key a client address is limited under: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its /64,
 * since one host usually owns a whole /64.
 */
export function addressKey(ip: string): string {
  if (!ipaddr.isValid(ip)) return `other:${ip}`
  const parsed = ipaddr.process(ip)
  if (parsed.kind() === 'ipv4') return parsed.toString()
  const parts = (parsed as ipaddr.IPv6).parts.slice(0, 4)
  return `${parts.map((part) => part.toString(16)).join(':')}::/64`
}

/** The 429 / code 25 refusal, with TMDB's figures filled in and a whole-seconds Retry-After ≥ 1. */
export function rateLimited(state: CounterState, limit: number): AuthError {
  return new AuthError('RATE_LIMITED', {
    retryAfterSeconds: Math.max(1, Math.ceil(state.msBeforeNext / 1000)),
    statusMessage: rateLimitMessage(state.count, limit),
  })
}

/**
 * The per-address request limits: the API's requests overall, request tokens, guest sessions and
 * `convert/4` sessions, and the website's form posts and sign-ups; and the login throttle.
 */
export class AbuseLimits {
  readonly login: LoginThrottle
  readonly #settings: AbuseSettings
  readonly #api: Counter | null
  readonly #burst: Counter | null
  readonly #requestTokens: Counter | null
  readonly #guestSessions: Counter | null
  readonly #sessionConversions: Counter | null
  readonly #webForms: Counter | null
  readonly #signups: Counter | null

  constructor(counters: CounterFactory, settings: AbuseSettings = DEFAULT_ABUSE_SETTINGS) {
    this.#settings = settings
    const on = settings.apiPerSecond > 0
    this.#api = on ? counters({ name: 'api', points: settings.apiPerSecond, durationSeconds: 1 }) : null
    this.#burst = on && settings.apiBurst > 0 ? counters({ name: 'api_burst', points: settings.apiBurst, durationSeconds: 10 }) : null
    this.#requestTokens =
      on && settings.requestTokensPerHour > 0 ? counters({ name: 'request_token', points: settings.requestTokensPerHour, durationSeconds: HOUR }) : null
    this.#guestSessions =
      on && settings.guestSessionsPerHour > 0 ? counters({ name: 'guest_session', points: settings.guestSessionsPerHour, durationSeconds: HOUR }) : null
    this.#sessionConversions =
      on && settings.sessionConversionsPerHour > 0
        ? counters({ name: 'session_conversion', points: settings.sessionConversionsPerHour, durationSeconds: HOUR })
        : null
    this.#webForms = on && settings.webFormsPerMinute > 0 ? counters({ name: 'web_form', points: settings.webFormsPerMinute, durationSeconds: 60 }) : null
    this.#signups = on && settings.signupsPerHour > 0 ? counters({ name: 'signup', points: settings.signupsPerHour, durationSeconds: HOUR }) : null
    this.login = new LoginThrottle(counters, settings)
  }

  get settings(): AbuseSettings {
    return this.#settings
  }

  /** Counts one API request of `address` (a client IP); 429/25 past the per-second limit and its burst allowance. */
  async apiRequest(address: string): Promise<void> {
    if (!this.#api) return
    const key = addressKey(address)
    const state = await this.#api.consume(key)
    if (state.allowed) return
    // Bursty: a request over the per-second figure may still spend the small burst allowance.
    if (this.#burst && (await this.#burst.consume(key)).allowed) return
    throw rateLimited(state, this.#settings.apiPerSecond)
  }

  /** Counts one new request token of `address` (429/25 past the hourly limit). */
  async requestToken(address: string): Promise<void> {
    await limit(this.#requestTokens, address, this.#settings.requestTokensPerHour)
  }

  /** Counts one new guest session of `address` (429/25 past the hourly limit). */
  async guestSession(address: string): Promise<void> {
    await limit(this.#guestSessions, address, this.#settings.guestSessionsPerHour)
  }

  /** Counts one `convert/4` of `address` (429/25 past the hourly limit). */
  async sessionConversion(address: string): Promise<void> {
    await limit(this.#sessionConversions, address, this.#settings.sessionConversionsPerHour)
  }

  /** Counts one website form post (sign-in, sign-up, sign-out, the account pages' forms) of `address` (429/25 past the per-minute limit). */
  async webForm(address: string): Promise<void> {
    await limit(this.#webForms, address, this.#settings.webFormsPerMinute)
  }

  /** Counts one website sign-up attempt of `address` (429/25 past the hourly limit). */
  async signup(address: string): Promise<void> {
    await limit(this.#signups, address, this.#settings.signupsPerHour)
  }
}

async function limit(counter: Counter | null, key: string, points: number): Promise<void> {
  if (!counter) return
  const state = await counter.consume(addressKey(key))
  if (!state.allowed) throw rateLimited(state, points)
}

/**
 * Password-guessing throttle. Failures are counted per address, per account+address and per
 * account, checked in that order; a success clears its account+address counter. An attempt over
 * any limit is refused with 429/25 before any password is checked, and is not itself counted as a
 * failure. An address over its limit touches no per-name counter.
 *
 * Why the owner is not locked out: an attacker at one address is stopped by the account+address
 * limit long before the per-account limit fills, so the owner elsewhere still signs in; and an
 * address that signed in to the account successfully before is exempt from the per-account limit,
 * so even a distributed attack that fills it does not lock the owner out of their usual address.
 */
export class LoginThrottle {
  readonly #account: Counter
  readonly #pair: Counter
  readonly #address: Counter
  readonly #known: Counter
  readonly #settings: AbuseSettings

  constructor(counters: CounterFactory, settings: AbuseSettings) {
    this.#settings = settings
    this.#account = counters({ name: 'login_account', points: settings.loginAccountFailuresPerHour, durationSeconds: HOUR })
    this.#pair = counters({ name: 'login_pair', points: settings.loginPairFailures, durationSeconds: settings.loginPairWindowSeconds })
    this.#address = counters({ name: 'login_address', points: settings.loginAddressFailuresPerHour, durationSeconds: HOUR })
    this.#known = counters({ name: 'login_known', points: Number.MAX_SAFE_INTEGER, durationSeconds: KNOWN_ADDRESS_SECONDS })
  }

  /**
   * Runs `verify` (a password check) for `username` from `address` unless a limit refuses it.
   * A rejection of `verify` with `isFailure(error)` counts as a failed attempt; success resets the
   * account+address counter. Points are reserved before `verify` so that concurrent guesses can
   * never pass a limit, and handed back when the attempt was not a failure.
   */
  async attempt<T>(username: string, address: string, verify: () => Promise<T>, isFailure: (error: unknown) => boolean): Promise<T> {
    // Usernames can be 2 KiB of anything: the store keys are fixed-length digests.
    const account = createHash('sha256').update(username).digest('hex')
    const key = addressKey(address)
    const pair = `${account}:${key}`
    const reserved = await this.#reserve(account, pair, key)
    let toRefund = reserved
    let failed = false
    try {
      const result = await verify()
      const resetPair = this.#pair.reset(pair).then(() => {
        // The reset took the pair's reserved point with it: refunded as well, it would start the new
        // window at -1, one failure more than the limit.
        toRefund = reserved.filter(([counter]) => counter !== this.#pair)
      })
      await Promise.all([resetPair, this.#known.consume(pair)])
      return result
    } catch (error) {
      failed = isFailure(error)
      throw error
    } finally {
      if (!failed) await Promise.all(toRefund.map(([counter, key]) => counter.refund(key)))
    }
  }

  async #reserve(account: string, pair: string, address: string): Promise<[Counter, string][]> {
    const reserved: [Counter, string][] = []
    // `exempt` is asked only when the limit refuses: a round trip most attempts do not need.
    // An exemption that cannot be looked up is not granted.
    const take = async (counter: Counter, key: string, points: number, exempt?: () => Promise<boolean>): Promise<void> => {
      const state = await counter.consume(key)
      reserved.push([counter, key])
      if (state.allowed || (exempt && (await exempt().catch(() => false)))) return
      throw rateLimited(state, points)
    }
    const { loginPairFailures, loginAddressFailuresPerHour, loginAccountFailuresPerHour } = this.#settings
    try {
      // The address first: past its limit, an attempt leaves no state for the name it tried, so
      // inventing a new name each time grows nothing.
      await take(this.#address, address, loginAddressFailuresPerHour)
      await take(this.#pair, pair, loginPairFailures)
      await take(this.#account, account, loginAccountFailuresPerHour, async () => (await this.#known.peek(pair)) !== null)
      return reserved
    } catch (error) {
      // Refused, or a counter's store failed: the points taken so far go back, and the caller hears why.
      await Promise.allSettled(reserved.map(([counter, key]) => counter.refund(key)))
      throw error
    }
  }
}
