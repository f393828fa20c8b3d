import { describe, expect, it } from 'vitest'
import { formatTmdbTime } from './types.js'

describe('formatTmdbTime()', () => {
  it("writes TMDB's form, to the second, dropping the milliseconds", () => {
    expect(formatTmdbTime(Date.UTC(2016, 7, 26, 17, 4, 39, 999))).toBe('2016-08-26 17:04:39 UTC')
    expect(formatTmdbTime(Date.UTC(2016, 7, 26, 17, 4, 39, 0))).toBe('2016-08-26 17:04:39 UTC')
  })

  it('gives every second its own text, whatever order the seconds come in', () => {
    const base = Date.UTC(2026, 10, 29, 23, 59, 59, 500)
    expect(formatTmdbTime(base)).toBe('2026-11-29 23:59:59 UTC')
    expect(formatTmdbTime(base + 600)).toBe('2026-11-30 00:00:00 UTC')
    expect(formatTmdbTime(base)).toBe('2026-11-29 23:59:59 UTC')
    expect(formatTmdbTime(base - 60 * 60 * 1000)).toBe('2026-11-29 22:59:59 UTC')
  })
})
