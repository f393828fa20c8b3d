import type { Counter, CounterState, LimitSpec } from '../core/rate-limits.js'

/** How many windows one limit keeps in memory at most, unless the operator sets another figure. */
export const DEFAULT_MEMORY_LIMITER_KEYS = 50_000

interface Window {
  count: number
  /** `Date.now()` at which the window ends. */
  endsAt: number
}

/**
 * A fixed-window counter in this process's memory, holding at most `maxKeys` windows. Windows start
 * at a key's first point and end `durationSeconds` later; an ended one is forgotten when next seen
 * and swept when a new key arrives. When `maxKeys` live windows are held, the oldest (the nearest
 * its end) is forgotten early to make room: memory stays bounded whatever keys clients invent, at
 * the price that a flood of more than `maxKeys` new keys within one window can end windows early.
 * The time is `Date.now()`, which tests fake.
 */
export class MemoryCounter implements Counter {
  // Insertion order is end order: every window of one counter lasts as long, and a key whose window
  // ended is deleted before it is added again (at the back).
  readonly #windows = new Map<string, Window>()
  readonly #durationMs: number

  constructor(
    private readonly spec: LimitSpec,
    readonly maxKeys: number,
  ) {
    if (!(maxKeys >= 1)) throw new RangeError('maxKeys must be at least 1')
    this.#durationMs = spec.durationSeconds * 1000
  }

  /** The live windows held now. */
  get size(): number {
    this.#sweep(Date.now())
    return this.#windows.size
  }

  consume(key: string): Promise<CounterState> {
    const now = Date.now()
    let window = this.#live(key, now)
    if (!window) {
      this.#sweep(now)
      if (this.#windows.size >= this.maxKeys) this.#windows.delete(this.#windows.keys().next().value as string)
      window = { count: 0, endsAt: now + this.#durationMs }
      this.#windows.set(key, window)
    }
    window.count += 1
    return Promise.resolve({ allowed: window.count <= this.spec.points, count: window.count, msBeforeNext: window.endsAt - now })
  }

  refund(key: string): Promise<void> {
    // A window that has ended (or was never started) has nothing to hand back.
    const window = this.#live(key, Date.now())
    if (window) window.count -= 1
    return Promise.resolve()
  }

  peek(key: string): Promise<CounterState | null> {
    const now = Date.now()
    const window = this.#live(key, now)
    return Promise.resolve(window ? { allowed: window.count < this.spec.points, count: window.count, msBeforeNext: window.endsAt - now } : null)
  }

  reset(key: string): Promise<void> {
    this.#windows.delete(key)
    return Promise.resolve()
  }

  #live(key: string, now: number): Window | undefined {
    const window = this.#windows.get(key)
    if (window && window.endsAt <= now) {
      this.#windows.delete(key)
      return undefined
    }
    return window
  }

  /** Forgets the windows that have ended: they sit at the front. */
  #sweep(now: number): void {
    for (const [key, window] of this.#windows) {
      if (window.endsAt > now) return
      this.#windows.delete(key)
    }
  }
}
