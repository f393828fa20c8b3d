import { describe, expect, it } from 'vitest'
import { SteadyClock } from './clock.js'

function sources(start: number): { wall: { t: number }; mono: { t: number }; clock: SteadyClock; pass: (ms: number) => void } {
  const wall = { t: start }
  const mono = { t: 1000 }
  const clock = new SteadyClock(
    () => wall.t,
    () => mono.t,
  )
  return {
    wall,
    mono,
    clock,
    pass: (ms) => {
      wall.t += ms
      mono.t += ms
    },
  }
}

describe('SteadyClock', () => {
  it('now() follows the wall clock while it runs normally', () => {
    const { clock, pass } = sources(Date.UTC(2026, 0, 1))
    expect(clock.now()).toBe(Date.UTC(2026, 0, 1))
    pass(1500)
    expect(clock.now()).toBe(Date.UTC(2026, 0, 1) + 1500)
  })

  it('now() keeps counting real time when the wall clock steps back an hour', () => {
    const start = Date.UTC(2026, 0, 1)
    const { clock, wall, pass } = sources(start)
    pass(10_000)
    expect(clock.now()).toBe(start + 10_000)
    wall.t -= 3_600_000
    expect(clock.now()).toBe(start + 10_000)
    pass(5_000)
    expect(clock.now()).toBe(start + 15_000)
    // Once the wall clock is ahead again, it leads.
    wall.t += 3_600_000 + 1
    expect(clock.now()).toBe(start + 15_001)
  })

  it('now() takes a forward step of the wall clock at once', () => {
    const start = Date.UTC(2026, 0, 1)
    const { clock, wall } = sources(start)
    wall.t += 60_000
    expect(clock.now()).toBe(start + 60_000)
  })

  it('now() never decreases over many random steps either way', () => {
    const { clock, wall, mono } = sources(Date.UTC(2026, 0, 1))
    let last = clock.now()
    for (let i = 0; i < 10_000; i++) {
      const step = Math.random() * 100
      mono.t += step
      wall.t += Math.random() < 0.05 ? -Math.round(Math.random() * 100_000) : Math.round(step)
      const now = clock.now()
      expect(now).toBeGreaterThanOrEqual(last)
      last = now
    }
  })
})
