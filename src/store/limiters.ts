import { createRequire } from 'node:module'
import type { Redis as RedisClient } from 'ioredis'
import type pgModule from 'pg'
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible'
import { isPostgresUrl } from '../config/database.js'
import type { Counter, CounterFactory, CounterState, LimitSpec } from '../core/rate-limits.js'
import { DEFAULT_MEMORY_LIMITER_KEYS, MemoryCounter } from './memory-counters.js'

// The Redis and PostgreSQL drivers load only when a backend needs them: together they are some
// 35 MB of resident memory a process on SQLite and memory counters never uses.
const load = createRequire(import.meta.url)
const redisClass = (): typeof RedisClient => (load('ioredis') as { Redis: typeof RedisClient }).Redis
const pgDriver = (): typeof pgModule => load('pg') as typeof pgModule

/** Where the limit counters live; one per process, shared by every limit. */
export interface LimiterBackend {
  kind: 'memory' | 'redis' | 'postgres'
  counters: CounterFactory
  close(): Promise<void>
  /**
   * For a backend on another server: resolves with null once it answers, or with why it did not
   * within `timeoutMs` (the counters then fall back to this process's memory until it does).
   */
  reachable?(timeoutMs: number): Promise<Error | null>
}

const KEY_PREFIX = 'cinepass'

/** The memory backend, which can say how many windows it holds. */
export interface MemoryLimiterBackend extends LimiterBackend {
  /** Live windows held now, over all its limits. */
  windows(): number
}

/**
 * Counters in this process's memory: right for a single instance (the SQLite mode). Each limit holds
 * at most `maxKeys` windows (see MemoryCounter). They read the time from `Date.now()`, which tests fake.
 */
export function memoryLimiterBackend(options: { maxKeys?: number } = {}): MemoryLimiterBackend {
  const made: MemoryCounter[] = []
  return {
    kind: 'memory',
    counters: (spec) => {
      const counter = new MemoryCounter(spec, options.maxKeys ?? DEFAULT_MEMORY_LIMITER_KEYS)
      made.push(counter)
      return counter
    },
    windows: () => made.reduce((sum, counter) => sum + counter.size, 0),
    close: async () => {},
  }
}

/**
 * Counters in Redis, shared by every instance, each with an in-memory insurance limiter: when Redis
 * cannot be reached, limits are enforced per instance instead of not at all (logins never become
 * unlimited), and the API keeps serving.
 */
export function redisLimiterBackend(url: string, keyPrefix = KEY_PREFIX): LimiterBackend {
  // No offline queue and one retry: a command to an unreachable Redis fails at once, and the
  // insurance limiter answers instead of the request hanging.
  const Redis = redisClass()
  const client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false })
  // Connection errors are expected during an outage (ioredis reconnects by itself); the insurance
  // limiter covers them, so they must not crash the process as unhandled 'error' events.
  client.on('error', () => {})
  return {
    kind: 'redis',
    reachable: (timeoutMs) =>
      new Promise((resolve) => {
        if (client.status === 'ready') return resolve(null)
        const done = (failure: Error | null): void => {
          clearTimeout(timer)
          client.off('ready', onReady)
          client.off('error', done)
          resolve(failure)
        }
        const onReady = (): void => done(null)
        const timer = setTimeout(() => done(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
        client.once('ready', onReady)
        client.once('error', done)
      }),
    counters: (spec) =>
      new FlexibleCounter(
        new RateLimiterRedis({
          storeClient: client,
          keyPrefix: `${keyPrefix}:${spec.name}`,
          points: spec.points,
          duration: spec.durationSeconds,
          rejectIfRedisNotReady: true,
          insuranceLimiter: memoryLimiter(spec, keyPrefix),
        }),
      ),
    close: () => {
      client.disconnect()
      return Promise.resolve()
    },
  }
}

const PG_TABLE = 'cinepass_rate_limits'

/**
 * Counters in a PostgreSQL table, shared by every instance on that database (rate-limiter-flexible's
 * atomic `INSERT … ON CONFLICT … DO UPDATE … RETURNING`), each with the same in-memory insurance as
 * Redis. Its own small pool with short timeouts, so a slow database cannot hold requests for long.
 */
export async function postgresLimiterBackend(url: string, keyPrefix = KEY_PREFIX): Promise<LimiterBackend> {
  const pool = new (pgDriver().Pool)({ connectionString: url, max: 4, connectionTimeoutMillis: 1000, query_timeout: 1000 })
  // Broken idle connections are dropped by the pool; the insurance limiter covers the outage.
  pool.on('error', () => {})
  try {
    // Created once here, not by each limiter: concurrent CREATE TABLEs race in PostgreSQL, and the
    // library throws an unhandled rejection when its own creation fails.
    await pool.query(`CREATE TABLE IF NOT EXISTS "${PG_TABLE}" (key varchar(255) PRIMARY KEY, points integer NOT NULL DEFAULT 0, expire bigint)`)
  } catch (error) {
    // Another instance created it at the same moment: PostgreSQL then reports a duplicate key in its
    // catalog (23505), or the table's row type (42710) or the table itself (42P07) as existing.
    if (!['23505', '42710', '42P07'].includes((error as { code?: string }).code ?? '')) {
      await pool.end().catch(() => {})
      throw error
    }
  }
  let sweeper = true
  return {
    kind: 'postgres',
    counters: (spec) => {
      // One limiter per process deletes expired rows (hourly); the others share its table.
      const clearExpiredByTimeout = sweeper
      sweeper = false
      return new FlexibleCounter(
        new RateLimiterPostgres({
          storeClient: pool,
          storeType: 'pool',
          tableName: PG_TABLE,
          tableCreated: true,
          clearExpiredByTimeout,
          keyPrefix: `${keyPrefix}:${spec.name}`,
          points: spec.points,
          duration: spec.durationSeconds,
          insuranceLimiter: memoryLimiter(spec, keyPrefix),
        }),
      )
    },
    close: () => pool.end(),
  }
}

/**
 * Chooses the limiter store: Redis when `redisUrl` is set, else the database when it is PostgreSQL
 * (several instances share it), else this process's memory (SQLite: one instance).
 */
export async function openLimiterBackend(options: { redisUrl: string | null; database: string; memoryKeys?: number }): Promise<LimiterBackend> {
  if (options.redisUrl) return redisLimiterBackend(options.redisUrl)
  if (isPostgresUrl(options.database)) return postgresLimiterBackend(options.database)
  return memoryLimiterBackend({ maxKeys: options.memoryKeys })
}

function memoryLimiter(spec: LimitSpec, keyPrefix: string): RateLimiterMemory {
  return new RateLimiterMemory({ keyPrefix: `${keyPrefix}:${spec.name}`, points: spec.points, duration: spec.durationSeconds })
}

/** The core's Counter port over any rate-limiter-flexible limiter. */
export class FlexibleCounter implements Counter {
  constructor(private readonly limiter: RateLimiterAbstract) {}

  async consume(key: string): Promise<CounterState> {
    try {
      return state(await this.limiter.consume(key), true)
    } catch (refusal) {
      // The limiter rejects with its result when over the limit; anything else is a store failure
      // with no insurance left, which must not pass as "allowed".
      if (refusal instanceof RateLimiterRes) return state(refusal, false)
      throw refusal
    }
  }

  async refund(key: string): Promise<void> {
    await this.limiter.reward(key, 1)
  }

  async peek(key: string): Promise<CounterState | null> {
    const result = await this.limiter.get(key)
    // The memory store keeps an expired record until its timer fires; an expired window is none.
    if (!result || result.msBeforeNext <= 0) return null
    return state(result, result.remainingPoints > 0)
  }

  async reset(key: string): Promise<void> {
    await this.limiter.delete(key)
  }
}

function state(result: RateLimiterRes, allowed: boolean): CounterState {
  return { allowed, count: result.consumedPoints, msBeforeNext: Math.max(0, result.msBeforeNext) }
}
