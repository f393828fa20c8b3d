/** Where core gets the time from; tests inject a fake one. Milliseconds since the epoch. */
export interface Clock {
  now(): number
}

/**
 * The wall clock, made safe for deciding expiry: it never goes backwards and never runs slower than
 * real time. Forward steps of the wall clock (an NTP correction) are taken at once, which can only end
 * lifetimes sooner. When the wall clock steps back, this clock keeps counting real elapsed time from
 * the last reading, until the wall clock catches up; so no step back extends any lifetime in a
 * running process. (A process started after a step back begins from the wall clock again.)
 */
export class SteadyClock implements Clock {
  #anchorWall: number
  #anchorElapsed: number

  /**
   * @param wall milliseconds since the epoch, may jump either way (default `Date.now`)
   * @param elapsed a monotonic millisecond counter (default `performance.now`)
   */
  constructor(
    private readonly wall: () => number = Date.now,
    private readonly elapsed: () => number = () => performance.now(),
  ) {
    this.#anchorWall = wall()
    this.#anchorElapsed = elapsed()
  }

  now(): number {
    const wall = this.wall()
    const elapsed = this.elapsed()
    const projected = this.#anchorWall + Math.floor(elapsed - this.#anchorElapsed)
    if (wall >= projected) {
      this.#anchorWall = wall
      this.#anchorElapsed = elapsed
      return wall
    }
    return projected
  }
}

export const systemClock: Clock = new SteadyClock()

/** A clock that only moves when told to: for tests. */
export class ManualClock implements Clock {
  #now: number
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start
  }
  now(): number {
    return this.#now
  }
  advance(ms: number): void {
    this.#now += ms
  }
  set(ms: number): void {
    this.#now = ms
  }
}
