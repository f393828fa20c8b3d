import { hash, parseOptions, verify, type Algorithm, type ParsedHashOptions, type Version } from '@node-rs/argon2'
import { randomBytes } from 'node:crypto'
import { AuthError } from './errors.js'
import { DEFAULT_HASH_QUEUE, MAX_DEFAULT_HASH_CONCURRENCY } from './hash-limits.js'

/**
 * How a hash waits for a slot. `low` (self-service sign-ups) may take only half of the waiting
 * queue, and is refused with 503 past it, so a flood of them leaves room for logins.
 */
export type HashPriority = 'normal' | 'low'

/** Hashes and checks passwords. Implementations never block the event loop. */
export interface PasswordHasher {
  /** A PHC string (`$argon2id$v=19$m=…`) for `password`, salted freshly. */
  hash(password: string, priority?: HashPriority): Promise<string>
  /** True when `password` matches `phc`; false for a mismatch or a hash it refuses to verify. */
  verify(phc: string, password: string): Promise<boolean>
  /**
   * Spends the time of one `verify` against a hash nobody owns, so that an unknown username takes
   * as long to refuse as a wrong password.
   */
  verifyDummy(password: string): Promise<void>
  /**
   * True when `phc` was made with weaker settings than this hasher's (another algorithm, or less
   * memory, time or parallelism), so a successful login should store a fresh `hash()` of the password.
   */
  needsRehash(phc: string): boolean
}

export interface Argon2Options {
  memoryCost?: number
  timeCost?: number
  parallelism?: number
  /** Hashes allowed to run at once; further calls queue. Default: MAX_DEFAULT_HASH_CONCURRENCY. */
  maxConcurrent?: number
  /** Calls allowed to wait for a slot; past it a call fails fast with 503 / code 9. Default: DEFAULT_HASH_QUEUE. */
  maxQueued?: number
}

// @node-rs/argon2's Algorithm.Argon2id and Version.V0x13; its enums are ambient, so the values are spelled out.
const ARGON2ID = 2 as Algorithm
const VERSION_19 = 1 as Version
// OWASP's argon2id minimum (m=19 MiB, t=2, p=1): about 10 ms on one core here.
const DEFAULTS = { memoryCost: 19456, timeCost: 2, parallelism: 1 }
// A stored hash asking for more than this is refused unverified: a corrupt or hostile row must not
// make each login allocate gigabytes.
const CEILING = { memoryCost: 131072, timeCost: 10, parallelism: 4 }

/** argon2id through @node-rs/argon2, on the libuv threadpool, with a bounded number running at once. */
export class Argon2Hasher implements PasswordHasher {
  readonly #options: { memoryCost: number; timeCost: number; parallelism: number }
  readonly #gate: Gate
  #dummy: Promise<string> | undefined

  constructor(options: Argon2Options = {}) {
    this.#options = {
      memoryCost: options.memoryCost ?? DEFAULTS.memoryCost,
      timeCost: options.timeCost ?? DEFAULTS.timeCost,
      parallelism: options.parallelism ?? DEFAULTS.parallelism,
    }
    this.#gate = new Gate(options.maxConcurrent ?? MAX_DEFAULT_HASH_CONCURRENCY, options.maxQueued ?? DEFAULT_HASH_QUEUE)
  }

  /** How many hashes wait for a slot now (for metrics). */
  get queued(): number {
    return this.#gate.queued
  }

  /** How many hashes run now (for metrics). */
  get running(): number {
    return this.#gate.running
  }

  /** Called with the milliseconds each hash waited for a slot (for metrics). */
  set onWait(observer: ((ms: number) => void) | undefined) {
    this.#gate.onWait = observer
  }

  hash(password: string, priority: HashPriority = 'normal'): Promise<string> {
    const maxQueued = priority === 'low' ? Math.floor(this.#gate.maxQueued / 2) : this.#gate.maxQueued
    return this.#gate.run(() => hash(password, { algorithm: ARGON2ID, ...this.#options }), maxQueued)
  }

  async verify(phc: string, password: string): Promise<boolean> {
    if (!withinCeiling(phc)) return false
    return this.#gate.run(async () => {
      try {
        return await verify(phc, password)
      } catch {
        return false
      }
    })
  }

  async verifyDummy(password: string): Promise<void> {
    this.#dummy ??= hash(randomBytes(16).toString('hex'), { algorithm: ARGON2ID, ...this.#options })
    await this.verify(await this.#dummy, password)
  }

  needsRehash(phc: string): boolean {
    const stored = parameters(phc)
    // A hash that cannot be read cannot have been verified either: nothing to upgrade.
    if (!stored) return false
    const policy = this.#options
    return (
      stored.algorithm !== ARGON2ID ||
      stored.version !== VERSION_19 ||
      stored.memoryCost < policy.memoryCost ||
      stored.timeCost < policy.timeCost ||
      stored.parallelism < policy.parallelism
    )
  }
}

/** The settings a PHC string was made with, or null when it is not an argon2 hash. */
function parameters(phc: string): ParsedHashOptions | null {
  try {
    return parseOptions(phc)
  } catch {
    return null
  }
}

function withinCeiling(phc: string): boolean {
  const stored = parameters(phc)
  if (!stored) return false
  const { memoryCost: m, timeCost: t, parallelism: p } = stored
  return m > 0 && t > 0 && p > 0 && m <= CEILING.memoryCost && t <= CEILING.timeCost && p <= CEILING.parallelism
}

/** A counting semaphore with a bounded queue: past the queue, callers are refused at once. */
class Gate {
  #running = 0
  readonly #waiting: (() => void)[] = []
  onWait: ((ms: number) => void) | undefined
  constructor(
    readonly maxRunning: number,
    readonly maxQueued: number,
  ) {}

  get queued(): number {
    return this.#waiting.length
  }

  get running(): number {
    return this.#running
  }

  /** Runs `work` in a slot, waiting for one while fewer than `maxQueued` wait; 503/9 past that. */
  async run<T>(work: () => Promise<T>, maxQueued = this.maxQueued): Promise<T> {
    if (this.#running >= this.maxRunning) {
      if (this.#waiting.length >= maxQueued) throw new AuthError('SERVICE_OFFLINE', { retryAfterSeconds: 1 })
      const queuedAt = performance.now()
      await new Promise<void>((resolve) => this.#waiting.push(resolve))
      this.onWait?.(performance.now() - queuedAt)
    } else {
      this.#running++
      this.onWait?.(0)
    }
    try {
      return await work()
    } finally {
      const next = this.#waiting.shift()
      // The slot passes straight to the next waiter, so the running count stays the same.
      if (next) next()
      else this.#running--
    }
  }
}
