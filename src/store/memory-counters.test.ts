import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { MemoryCounter } from './memory-counters.js'

const START = Date.UTC(2026, 0, 1, 12)

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(START)
})
afterEach(() => {
  vi.useRealTimers()
})

describe('MemoryCounter', () => {
  it('allows `points` per window from the first point, says how long the window has left, and starts afresh when it ends', async () => {
    const counter = new MemoryCounter({ name: 't', points: 3, durationSeconds: 10 }, 100)
    const states = []
    for (let i = 0; i < 4; i++) states.push(await counter.consume('k'))
    expect(states.map((s) => [s.allowed, s.count])).toEqual([
      [true, 1],
      [true, 2],
      [true, 3],
      [false, 4],
    ])
    expect(states[3]?.msBeforeNext).toBe(10_000)
    vi.advanceTimersByTime(9_999)
    expect(await counter.consume('k')).toEqual({ allowed: false, count: 5, msBeforeNext: 1 })
    vi.advanceTimersByTime(1)
    expect(await counter.consume('k')).toEqual({ allowed: true, count: 1, msBeforeNext: 10_000 })
  })

  it('refund() hands a point back within the window only; peek() and reset() see and end the window', async () => {
    const counter = new MemoryCounter({ name: 't', points: 2, durationSeconds: 10 }, 100)
    await counter.consume('k')
    await counter.consume('k')
    expect(await counter.peek('k')).toEqual({ allowed: false, count: 2, msBeforeNext: 10_000 })
    await counter.refund('k')
    expect(await counter.peek('k')).toEqual({ allowed: true, count: 1, msBeforeNext: 10_000 })
    await counter.refund('never-seen')
    expect(await counter.peek('never-seen')).toBeNull()
    vi.advanceTimersByTime(10_000)
    await counter.refund('k')
    expect(await counter.peek('k')).toBeNull()
    await counter.consume('k')
    await counter.reset('k')
    expect(await counter.peek('k')).toBeNull()
  })

  it('a stream of 10,000 distinct keys never holds more than its bound, forgetting the oldest first', async () => {
    const counter = new MemoryCounter({ name: 't', points: 1, durationSeconds: 3600 }, 500)
    for (let i = 0; i < 10_000; i++) {
      await counter.consume(`key${i}`)
      if (i % 1000 === 0) vi.advanceTimersByTime(1)
      expect(counter.size).toBeLessThanOrEqual(500)
    }
    expect(counter.size).toBe(500)
    // The newest windows are still counted; the oldest were forgotten.
    expect((await counter.consume('key9999')).allowed).toBe(false)
    expect(await counter.peek('key0')).toBeNull()
  })

  it('ended windows are swept, so the count of windows follows the live ones', async () => {
    const counter = new MemoryCounter({ name: 't', points: 1, durationSeconds: 1 }, 1000)
    for (let i = 0; i < 300; i++) await counter.consume(`a${i}`)
    vi.advanceTimersByTime(1000)
    for (let i = 0; i < 5; i++) await counter.consume(`b${i}`)
    expect(counter.size).toBe(5)
  })
})
