import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { createTestUser, temporarySqliteStore, testCore } from '../test-support/fixtures.js'
import { ManualClock } from './clock.js'
import { AuthError } from './errors.js'
import { Argon2Hasher } from './password.js'
import { AbuseLimits, DEFAULT_ABUSE_SETTINGS, LoginThrottle, addressKey, type Counter, type CounterFactory } from './rate-limits.js'
import { memoryLimiterBackend } from '../store/limiters.js'

// rate-limiter-flexible reads Date.now() and drops memory keys by setTimeout; only those are faked,
// and the ManualClock moves with them.
const START = Date.UTC(2026, 0, 1, 12)
let clock: ManualClock
function advance(ms: number): void {
  clock.advance(ms)
  vi.advanceTimersByTime(ms)
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] })
  clock = new ManualClock(START)
  vi.setSystemTime(START)
})
afterEach(() => {
  vi.useRealTimers()
})

async function outcome(work: Promise<unknown>): Promise<AuthError | 'ok'> {
  try {
    await work
    return 'ok'
  } catch (error) {
    if (error instanceof AuthError) return error
    throw error
  }
}

function codeOf(result: AuthError | string): string {
  return typeof result === 'string' ? result : result.code
}

describe('addressKey()', () => {
  it('groups IPv6 clients by /64 and reads IPv4-mapped IPv6 as IPv4', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe(addressKey('2001:db8:1:2:ffff:1:2:3'))
    expect(addressKey('2001:db8:1:2::1')).not.toBe(addressKey('2001:db8:1:3::1'))
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7')
    expect(addressKey('192.0.2.7')).not.toBe(addressKey('192.0.2.8'))
  })
})

describe('AbuseLimits', () => {
  it('apiRequest() allows exactly the per-second figure plus the burst, then 429/25 with Retry-After 1, and recovers after the second', async () => {
    const limits = new AbuseLimits(memoryLimiterBackend().counters, { ...DEFAULT_ABUSE_SETTINGS, apiPerSecond: 40, apiBurst: 10 })
    const results = []
    for (let i = 0; i < 60; i++) results.push(await outcome(limits.apiRequest('192.0.2.1')))
    expect(results.filter((r) => r === 'ok')).toHaveLength(50)
    const refused = results[59] as AuthError
    expect(refused.code).toBe('RATE_LIMITED')
    expect(refused.retryAfterSeconds).toBe(1)
    expect(refused.statusMessage).toBe('Your request count (60) is over the allowed limit of (40).')
    // Another address is served meanwhile.
    expect(await outcome(limits.apiRequest('192.0.2.2'))).toBe('ok')
    advance(1000)
    // A new second: 40 again, the burst is spent for 10 s.
    const next = []
    for (let i = 0; i < 41; i++) next.push(await outcome(limits.apiRequest('192.0.2.1')))
    expect(next.filter((r) => r === 'ok')).toHaveLength(40)
    advance(10_000)
    const later = []
    for (let i = 0; i < 51; i++) later.push(await outcome(limits.apiRequest('192.0.2.1')))
    expect(later.filter((r) => r === 'ok')).toHaveLength(50)
  })

  it('requestToken() and guestSession() allow their hourly figure per address, with Retry-After until the hour ends', async () => {
    const limits = new AbuseLimits(memoryLimiterBackend().counters, { ...DEFAULT_ABUSE_SETTINGS, requestTokensPerHour: 1000, guestSessionsPerHour: 5 })
    for (let i = 0; i < 1000; i++) await limits.requestToken('192.0.2.1')
    const refused = await outcome(limits.requestToken('192.0.2.1'))
    expect(refused).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 3600 })
    for (let i = 0; i < 5; i++) await limits.guestSession('192.0.2.1')
    advance(59 * 60 * 1000)
    expect(await outcome(limits.guestSession('192.0.2.1'))).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 60 })
    advance(60 * 1000)
    expect(await outcome(limits.guestSession('192.0.2.1'))).toBe('ok')
  })

  it('a per-second figure of 0 turns the API limits off', async () => {
    const limits = new AbuseLimits(memoryLimiterBackend().counters, { ...DEFAULT_ABUSE_SETTINGS, apiPerSecond: 0, guestSessionsPerHour: 1 })
    for (let i = 0; i < 200; i++) await limits.apiRequest('192.0.2.1')
    for (let i = 0; i < 5; i++) await limits.guestSession('192.0.2.1')
  })
})

describe('AuthService.signIn() throttling (real SQLite, real argon2)', () => {
  let temp: ReturnType<typeof temporarySqliteStore>
  let verifications = 0
  class CountingHasher extends Argon2Hasher {
    override async verify(phc: string, password: string): Promise<boolean> {
      verifications++
      return super.verify(phc, password)
    }
  }

  beforeAll(() => {
    temp = temporarySqliteStore()
  })
  afterAll(async () => {
    await temp.remove()
  })

  function core() {
    verifications = 0
    return testCore(temp.store, { hasher: new CountingHasher({ memoryCost: 1024, timeCost: 1 }), clock })
  }

  it('soft-locks an account+address after 10 failures in 15 minutes, without checking the password, until the window ends', async () => {
    const c = core()
    const user = await createTestUser(c)
    for (let i = 0; i < 10; i++) expect(await outcome(c.auth.signIn(user.username, 'wrong', '198.51.100.1'))).toMatchObject({ code: 'INVALID_LOGIN' })
    advance(5 * 60 * 1000)
    const refused = await outcome(c.auth.signIn(user.username, user.password, '198.51.100.1'))
    expect(refused).toMatchObject({
      code: 'RATE_LIMITED',
      retryAfterSeconds: 600,
      statusMessage: 'Your request count (11) is over the allowed limit of (10).',
    })
    expect(verifications).toBe(10)
    advance(10 * 60 * 1000)
    expect(await outcome(c.auth.signIn(user.username, user.password, '198.51.100.1'))).toBe('ok')
  })

  it('a success resets the account+address counter; an unknown user is counted like a wrong password', async () => {
    const c = core()
    const user = await createTestUser(c)
    for (let i = 0; i < 9; i++) await outcome(c.auth.signIn(user.username, 'wrong', '198.51.100.2'))
    expect(await outcome(c.auth.signIn(user.username, user.password, '198.51.100.2'))).toBe('ok')
    for (let i = 0; i < 10; i++) expect(await outcome(c.auth.signIn(user.username, 'wrong', '198.51.100.2'))).toMatchObject({ code: 'INVALID_LOGIN' })
    for (let i = 0; i < 10; i++) expect(await outcome(c.auth.signIn('nobody-here', 'wrong', '198.51.100.2'))).toMatchObject({ code: 'INVALID_LOGIN' })
    expect(await outcome(c.auth.signIn('nobody-here', 'wrong', '198.51.100.2'))).toMatchObject({ code: 'RATE_LIMITED' })
  })

  it('after a success the account+address pair allows exactly its 10 failures again, not one more', async () => {
    const c = core()
    const user = await createTestUser(c)
    for (let i = 0; i < 3; i++) await outcome(c.auth.signIn(user.username, 'wrong', '198.51.100.6'))
    expect(await outcome(c.auth.signIn(user.username, user.password, '198.51.100.6'))).toBe('ok')
    verifications = 0
    const results = []
    for (let i = 0; i < 11; i++) results.push(codeOf(await outcome(c.auth.signIn(user.username, 'wrong', '198.51.100.6'))))
    expect(results).toEqual([...Array(10).fill('INVALID_LOGIN'), 'RATE_LIMITED'])
    expect(verifications).toBe(10)
  })

  it('the owner signs in from another address while an attacker is locked out after 1,000 guesses', async () => {
    const c = core()
    const user = await createTestUser(c)
    const results = []
    for (let i = 0; i < 1000; i++) results.push(await outcome(c.auth.signIn(user.username, `guess${i}`, '203.0.113.66')))
    expect(results.filter((r) => codeOf(r) === 'INVALID_LOGIN')).toHaveLength(10)
    expect(results.filter((r) => codeOf(r) === 'RATE_LIMITED')).toHaveLength(990)
    expect(verifications).toBe(10)
    expect(await outcome(c.auth.signIn(user.username, user.password, '198.51.100.3'))).toBe('ok')
  })

  it('at most 100 failures an hour reach the password check of one account, from 150 addresses; the owner keeps a known address; all recover after the hour', async () => {
    const c = core()
    const user = await createTestUser(c)
    expect(await outcome(c.auth.signIn(user.username, user.password, '198.51.100.4'))).toBe('ok')
    verifications = 0
    const results = []
    for (let i = 0; i < 150; i++) results.push(await outcome(c.auth.signIn(user.username, 'wrong', `10.0.${i >> 8}.${i & 255}`)))
    expect(verifications).toBe(100)
    expect(results.filter((r) => codeOf(r) === 'RATE_LIMITED')).toHaveLength(50)
    // The owner's usual address is exempt from the per-account cap; a new address is not.
    expect(await outcome(c.auth.signIn(user.username, user.password, '198.51.100.4'))).toBe('ok')
    expect(await outcome(c.auth.signIn(user.username, user.password, '198.51.100.5'))).toMatchObject({ code: 'RATE_LIMITED' })
    advance(60 * 60 * 1000)
    expect(await outcome(c.auth.signIn(user.username, user.password, '198.51.100.5'))).toBe('ok')
  })

  it('one address may fail on many accounts (more than 20) but not more than 100 times an hour', async () => {
    const c = core()
    const results = []
    for (let i = 0; i < 101; i++) results.push(await outcome(c.auth.signIn(`someone${i}`, 'wrong', '203.0.113.9')))
    expect(results.slice(0, 100).every((r) => codeOf(r) === 'INVALID_LOGIN')).toBe(true)
    expect(results[100]).toMatchObject({ code: 'RATE_LIMITED', statusMessage: 'Your request count (101) is over the allowed limit of (100).' })
    expect(verifications).toBe(100)
  })

  it('concurrent guesses never pass the account+address limit', async () => {
    const c = core()
    const user = await createTestUser(c)
    const results = await Promise.all(Array.from({ length: 30 }, () => outcome(c.auth.signIn(user.username, 'wrong', '203.0.113.10'))))
    expect(verifications).toBe(10)
    expect(results.filter((r) => codeOf(r) === 'RATE_LIMITED')).toHaveLength(20)
  })
})

describe('LoginThrottle when a counter store fails', () => {
  const settings = { ...DEFAULT_ABUSE_SETTINGS, loginPairFailures: 3, loginAddressFailuresPerHour: 20, loginAccountFailuresPerHour: 1 }
  const address = '198.51.100.9'

  /** Memory counters, of which the named limit's named operation throws while `failing` says so. */
  function counters(failing: { limit: string; operation: keyof Counter }) {
    const memory = memoryLimiterBackend().counters
    const made = new Map<string, Counter>()
    const factory: CounterFactory = (spec) => {
      const counter = memory(spec)
      const fails = (operation: keyof Counter): boolean => failing.limit === spec.name && failing.operation === operation
      const guarded: Counter = {
        consume: (key) => (fails('consume') ? Promise.reject(new Error('store down')) : counter.consume(key)),
        refund: (key) => counter.refund(key),
        peek: (key) => (fails('peek') ? Promise.reject(new Error('store down')) : counter.peek(key)),
        reset: (key) => counter.reset(key),
      }
      made.set(spec.name, counter)
      return guarded
    }
    return { factory, count: async (limit: string, key: string) => (await made.get(limit)!.peek(key))?.count ?? 0 }
  }
  const ok = () => Promise.resolve('ok')
  const wrong = () => Promise.reject(new AuthError('INVALID_LOGIN'))
  const isFailure = (error: unknown) => error instanceof AuthError && error.code === 'INVALID_LOGIN'

  it('a failing store while reserving hands back the points already taken', async () => {
    const failing = { limit: 'login_account', operation: 'consume' as const }
    const { factory, count } = counters(failing)
    const throttle = new LoginThrottle(factory, settings)
    await expect(throttle.attempt('ann', address, ok, isFailure)).rejects.toThrow('store down')
    expect(await count('login_address', addressKey(address))).toBe(0)
  })

  it('an exemption that cannot be looked up is not granted, and the refused attempt takes no points', async () => {
    const failing = { limit: 'none', operation: 'peek' as keyof Counter }
    const { factory, count } = counters(failing)
    const throttle = new LoginThrottle(factory, settings)
    expect(await outcome(throttle.attempt('ann', address, ok, isFailure))).toBe('ok')
    expect(await outcome(throttle.attempt('ann', '203.0.113.20', wrong, isFailure))).toMatchObject({ code: 'INVALID_LOGIN' })
    // The account's one failure an hour is spent; the owner's known address is exempt, unless the
    // lookup fails.
    expect(await outcome(throttle.attempt('ann', address, ok, isFailure))).toBe('ok')
    failing.limit = 'login_known'
    expect(await outcome(throttle.attempt('ann', address, ok, isFailure))).toMatchObject({ code: 'RATE_LIMITED' })
    expect(await count('login_address', addressKey(address))).toBe(0)
  })

  it('a success whose known-address mark fails still leaves the account+address window at 0, not -1', async () => {
    const failing = { limit: 'login_known', operation: 'consume' as const }
    const { factory } = counters(failing)
    const throttle = new LoginThrottle(factory, { ...settings, loginAccountFailuresPerHour: 100 })
    await expect(throttle.attempt('ann', address, ok, isFailure)).rejects.toThrow('store down')
    failing.limit = 'none'
    const results = []
    for (let i = 0; i < 4; i++) results.push(codeOf(await outcome(throttle.attempt('ann', address, wrong, isFailure))))
    expect(results).toEqual(['INVALID_LOGIN', 'INVALID_LOGIN', 'INVALID_LOGIN', 'RATE_LIMITED'])
  })
})
