import { describe, expect, it } from 'vitest'
import { cryptoRandom, randomHex } from './secrets.js'

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
