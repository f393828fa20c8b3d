import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto'

/** Where core gets random bytes from. Always a CSPRNG outside tests. */
export interface RandomSource {
  bytes(count: number): Buffer
}

// Random bytes are drawn from the CSPRNG a few KiB at a time and handed out once each: one call into
// OpenSSL per many tokens instead of one per token (it showed in token/new's profile).
const POOL_SIZE = 4096
let pool = Buffer.alloc(0)
let poolOffset = 0

export const cryptoRandom: RandomSource = {
  bytes: (count) => {
    if (count > POOL_SIZE / 4) return randomBytes(count)
    if (poolOffset + count > pool.length) {
      pool = randomBytes(POOL_SIZE)
      poolOffset = 0
    }
    // A copy: the caller owns its bytes, and no byte of the pool is ever handed out twice.
    const out = Buffer.from(pool.subarray(poolOffset, poolOffset + count))
    pool.fill(0, poolOffset, poolOffset + count)
    poolOffset += count
    return out
  },
}

/** `count` random bytes as lowercase hex: 20 bytes give TMDB's 40-hex request tokens and sessions. */
export function randomHex(random: RandomSource, count: number): string {
  return random.bytes(count).toString('hex')
}

/**
 * The form in which a bearer secret is stored and looked up: hex SHA-256. A plain fast hash is
 * enough because every secret we issue carries at least 128 random bits.
 */
export function hashSecret(secret: string): string {
  // The one-shot hash: a third of createHash().update().digest()'s cost, and every request pays it.
  return hash('sha256', secret, 'hex')
}

/** SHA-256 of `value`, as bytes. */
export function hashSecretBytes(value: string): Buffer {
  return hash('sha256', value, 'buffer')
}

/** Compares two strings in time that depends only on their digests, never on where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const digestA = createHash('sha256').update(a).digest()
  const digestB = createHash('sha256').update(b).digest()
  return timingSafeEqual(digestA, digestB)
}

export const HEX_40 = /^[0-9a-f]{40}$/
export const HEX_32 = /^[0-9a-f]{32}$/
export const HEX_24 = /^[0-9a-f]{24}$/
