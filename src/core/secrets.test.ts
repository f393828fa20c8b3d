import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { HEX_32, HEX_40, constantTimeEqual, cryptoRandom, hashSecret, randomHex } from './secrets.js'

// Chi-square critical value for 15 degrees of freedom at p = 0.001: a fair source exceeds it once in a thousand runs.
const CHI_SQUARE_15_P001 = 37.697

/** Per-hex-digit counts over every token, and the chi-square statistic against a uniform spread. */
function digitSpread(tokens: string[]): { counts: number[]; chiSquare: number; worstDeviation: number } {
  const counts = new Array<number>(16).fill(0)
  for (const token of tokens) for (let i = 0; i < token.length; i++) counts[parseInt(token[i]!, 16)]!++
  const expected = counts.reduce((a, b) => a + b, 0) / 16
  const chiSquare = counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0)
  const worstDeviation = Math.max(...counts.map((count) => Math.abs(count - expected) / expected))
  return { counts, chiSquare, worstDeviation }
}

describe('issued secrets (security.md T1)', () => {
  it.each([
    ['request tokens and sessions', 20, HEX_40],
    ['guest session ids', 16, HEX_32],
  ])('10⁶ %s: well-formed, no duplicates, hex digits uniform', (_name, bytes, format) => {
    const tokens = Array.from({ length: 1_000_000 }, () => randomHex(cryptoRandom, bytes))
    expect(tokens.every((token) => format.test(token))).toBe(true)
    expect(new Set(tokens).size).toBe(tokens.length)
    const spread = digitSpread(tokens)
    expect(spread.worstDeviation).toBeLessThan(0.005)
    expect(spread.chiSquare).toBeLessThan(CHI_SQUARE_15_P001)
  })

  it('the uniformity check itself catches a biased source', () => {
    // One digit in 64 forced to 0: the kind of bias a modulo or Math.random-based generator leaves.
    const biased = Array.from({ length: 100_000 }, () => randomHex(cryptoRandom, 20).replace(/^./, (digit) => (Math.random() < 1 / 4 ? '0' : digit)))
    expect(digitSpread(biased).chiSquare).toBeGreaterThan(CHI_SQUARE_15_P001)
  })

  it('no production source under src/ calls Math.random', () => {
    const offenders: string[] = []
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name)
        if (statSync(path).isDirectory()) walk(path)
        else if (/\.(ts|cts|mts)$/.test(name) && !name.includes('.test.') && readFileSync(path, 'utf8').includes('Math.random(')) offenders.push(path)
      }
    }
    walk(join(import.meta.dirname, '..'))
    expect(offenders).toEqual([])
  })

  it('hashSecret() is hex SHA-256, and constantTimeEqual() compares whole values', () => {
    expect(hashSecret('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect(constantTimeEqual('same', 'same')).toBe(true)
    expect(constantTimeEqual('same', 'sam')).toBe(false)
    expect(constantTimeEqual('same', 'samf')).toBe(false)
  })
})

describe('cryptoRandom', () => {
  it('hands out fresh bytes on every call, across pool refills, in buffers the caller owns', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 5000; i++) seen.add(randomHex(cryptoRandom, 20))
    expect(seen.size).toBe(5000)
    const a = cryptoRandom.bytes(16)
    const copy = Buffer.from(a)
    cryptoRandom.bytes(16)
    a.fill(0)
    expect(cryptoRandom.bytes(16).equals(Buffer.alloc(16))).toBe(false)
    expect(copy.equals(Buffer.alloc(16))).toBe(false)
    expect(cryptoRandom.bytes(4096)).toHaveLength(4096)
  })
})
