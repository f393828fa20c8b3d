import { systemClock, type Clock } from '../core/clock.js'

/**
 * The testing kit's clock: real time plus whatever `advance` added, so tokens and sessions expire
 * without waiting while everything else (timeouts, `Date`) keeps running normally.
 */
export class TestClock implements Clock {
  #offsetMs = 0

  now(): number {
    return systemClock.now() + this.#offsetMs
  }

  /** Moves this server's time forward by `ms` milliseconds (a finite number, 0 or more). */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('clock.advance(ms): ms must be a finite number of milliseconds, 0 or more')
    this.#offsetMs += ms
  }
}
