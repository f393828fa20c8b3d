import { hash, parseOptions } from '@node-rs/argon2'
import { describe, expect, it } from 'vitest'
import { AuthError } from './errors.js'
import { Argon2Hasher } from './password.js'

const FAST = { memoryCost: 1024, timeCost: 1 }

describe('Argon2Hasher bounded hashing', () => {
  it('hash() past the running cap and the queue is refused at once with 503/9 and a Retry-After, and the admitted ones finish', async () => {
    const hasher = new Argon2Hasher({ ...FAST, maxConcurrent: 1, maxQueued: 2 })
    const admitted = [hasher.hash('one'), hasher.hash('two'), hasher.hash('three')]
    expect(hasher.queued).toBe(2)
    const refused = await hasher.hash('four').then(
      () => null,
      (error: unknown) => error,
    )
    expect(refused).toBeInstanceOf(AuthError)
    expect(refused).toMatchObject({ code: 'SERVICE_OFFLINE', retryAfterSeconds: 1 })
    const hashes = await Promise.all(admitted)
    expect(hashes.every((phc) => phc.startsWith('$argon2id$'))).toBe(true)
    expect(hasher.queued).toBe(0)
    // Capacity is back once the queue drains.
    expect(await hasher.verify(hashes[0]!, 'one')).toBe(true)
  })

  it('a low-priority hash() waits only while less than half the queue is taken; verify() still queues behind it', async () => {
    const hasher = new Argon2Hasher({ ...FAST, maxConcurrent: 1, maxQueued: 4 })
    const phc = await hasher.hash('login')
    const admitted = [hasher.hash('a', 'low'), hasher.hash('b', 'low'), hasher.hash('c', 'low')]
    expect(hasher.queued).toBe(2)
    await expect(hasher.hash('d', 'low')).rejects.toMatchObject({ code: 'SERVICE_OFFLINE', retryAfterSeconds: 1 })
    const logins = [hasher.verify(phc, 'login'), hasher.verify(phc, 'login')]
    expect(hasher.queued).toBe(4)
    expect(await Promise.all(logins)).toEqual([true, true])
    await Promise.all(admitted)
  })

  it('a queue of 0 admits only the running cap', async () => {
    const hasher = new Argon2Hasher({ ...FAST, maxConcurrent: 2, maxQueued: 0 })
    const results = await Promise.allSettled([hasher.hash('a'), hasher.hash('b'), hasher.hash('c')])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected'])
  })
})

describe('Argon2Hasher and hostile stored hashes (security.md T30)', () => {
  it('verify() refuses a stored hash asking for 4 GiB at once, without allocating it', async () => {
    const hasher = new Argon2Hasher(FAST)
    const honest = await hasher.hash('secret')
    const hostile = honest.replace(/m=\d+/, 'm=4194304')
    const rssBefore = process.memoryUsage().rss
    expect(await hasher.verify(hostile, 'secret')).toBe(false)
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(50 * 1024 * 1024)
    // The same hash within bounds does verify: the refusal is the ceiling, not a broken string.
    expect(await hasher.verify(honest, 'secret')).toBe(true)
  })

  it.each([
    '$argon2id$v=19$m=19456,t=200,p=1$c2FsdHNhbHQ$aGFzaA',
    '$argon2id$v=19$m=19456,t=2,p=64$c2FsdHNhbHQ$aGFzaA',
    '$argon2id$v=19$garbage$x$y',
    'plain text',
  ])('verify() refuses %s', async (phc) => {
    expect(await new Argon2Hasher(FAST).verify(phc, 'secret')).toBe(false)
  })

  it('long passwords (64 to 1,024 characters, any Unicode) hash and verify', async () => {
    const hasher = new Argon2Hasher(FAST)
    for (const password of ['p'.repeat(64), 'ü😀'.repeat(100), 'x'.repeat(1_024)]) {
      const phc = await hasher.hash(password)
      expect(await hasher.verify(phc, password)).toBe(true)
      expect(await hasher.verify(phc, password.slice(0, -1))).toBe(false)
    }
  })
})

describe('Argon2Hasher policy', () => {
  it('needsRehash() is true for a hash below the policy (m=19456, t=2, p=1, argon2id) and false for one at or above it', async () => {
    const hasher = new Argon2Hasher()
    const current = await hasher.hash('pw')
    expect(parseOptions(current)).toMatchObject({ memoryCost: 19456, timeCost: 2, parallelism: 1, algorithm: 2 })
    expect(hasher.needsRehash(current)).toBe(false)
    expect(hasher.needsRehash(await hash('pw', { memoryCost: 1024, timeCost: 1 }))).toBe(true)
    expect(hasher.needsRehash(await hash('pw', { memoryCost: 19456, timeCost: 1 }))).toBe(true)
    expect(hasher.needsRehash(await hash('pw', { memoryCost: 19456, timeCost: 2, algorithm: 1 as never }))).toBe(true)
    expect(hasher.needsRehash(await hash('pw', { memoryCost: 32768, timeCost: 3 }))).toBe(false)
    expect(hasher.needsRehash('not a hash')).toBe(false)
  })

  it('verify() refuses a stored hash over the ceiling (m=4 GiB) without running it', async () => {
    const hasher = new Argon2Hasher()
    const hostile = (await hash('pw', { memoryCost: 1024, timeCost: 1 })).replace('m=1024', 'm=4194304')
    expect(await hasher.verify(hostile, 'pw')).toBe(false)
  })
})
