import { createHmac, hkdfSync } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createTestApplication, temporarySqliteStore, testCore } from '../test-support/fixtures.js'

// The token's layout, recomputed here from the derived secret, independently of the codec.
function keysOf(secret: Buffer) {
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `cinepass v3 request token ${info}`, 32))
  return { mac: derive('mac'), mask: derive('mask') }
}

function unmasked(token: string, secret: Buffer): Buffer {
  const bytes = Buffer.from(token, 'hex')
  const mask = createHmac('sha256', keysOf(secret).mask).update(bytes.subarray(12)).digest()
  return Buffer.from(bytes.subarray(0, 12).map((byte, i) => byte ^ mask[i]!))
}

describe('RequestTokenCodec', () => {
  let temp: ReturnType<typeof temporarySqliteStore>
  let core: ReturnType<typeof testCore>
  beforeEach(() => {
    temp = temporarySqliteStore()
    core = testCore(temp.store)
  })
  afterEach(async () => temp.remove())

  it('issue() hides key tag, expiry and 7 random bytes under a mask derived from a MAC that is HMAC-SHA-256 of them and the application', async () => {
    const app = await createTestApplication(core)
    const { token, issued } = await core.auth.requestTokens.issue(app.id)
    expect(issued).toEqual({ appId: app.id, createdAt: core.clock.now(), expiresAt: core.clock.now() + 3_600_000 })
    const [key] = await core.keys.derivedSecrets('v3 request token')
    const header = unmasked(token, key!.secret)
    expect(header[0]).toBe(key!.tag)
    expect(header.readUInt32BE(1) * 1000).toBe(issued.expiresAt)
    const mac = createHmac('sha256', keysOf(key!.secret).mac).update(Uint8Array.of(2)).update(header).update(app.id).digest().subarray(0, 8)
    expect(Buffer.from(token, 'hex').subarray(12).equals(mac)).toBe(true)
  })

  it('issue() gives tokens of one application, key and second that look like independent random 160-bit strings', async () => {
    const app = await createTestApplication(core)
    const tokens: string[] = []
    for (let i = 0; i < 1000; i++) tokens.push((await core.auth.requestTokens.issue(app.id)).token)
    expect(new Set(tokens).size).toBe(1000)
    // Among 1,000 random strings the longest common prefix of neighbours in sorted order is about 5
    // hex digits; 9 or more happens with a chance of about one in 100,000.
    const sorted = [...tokens].sort()
    let longestCommonPrefix = 0
    for (let i = 1; i < sorted.length; i++) {
      let length = 0
      while (sorted[i - 1]![length] === sorted[i]![length]) length++
      longestCommonPrefix = Math.max(longestCommonPrefix, length)
    }
    expect(longestCommonPrefix).toBeLessThan(9)
    // Each of the 40 positions takes nearly every hex digit (all 16 but with a negligible chance).
    for (let position = 0; position < 40; position++) {
      expect(new Set(tokens.map((token) => token[position])).size, `hex digit ${position}`).toBeGreaterThanOrEqual(12)
    }
  })

  it('identify() finds the application among several, and verify() only for that one', async () => {
    const apps = [await createTestApplication(core, 'One'), await createTestApplication(core, 'Two'), await createTestApplication(core, 'Three')]
    const { token } = await core.auth.requestTokens.issue(apps[1]!.id)
    expect(
      (
        await core.auth.requestTokens.identify(
          token,
          apps.map((app) => app.id),
        )
      )?.appId,
    ).toBe(apps[1]!.id)
    expect(await core.auth.requestTokens.verify(token, apps[1]!.id)).not.toBeNull()
    expect(await core.auth.requestTokens.verify(token, apps[0]!.id)).toBeNull()
    expect(await core.auth.requestTokens.identify(token, [apps[0]!.id, apps[2]!.id])).toBeNull()
  })

  it('a rotated key keeps older tokens verifying; new tokens use the new key', async () => {
    const app = await createTestApplication(core)
    const old = await core.auth.requestTokens.issue(app.id)
    await core.keys.rotate()
    const fresh = await core.auth.requestTokens.issue(app.id)
    expect(await core.auth.requestTokens.verify(old.token, app.id)).not.toBeNull()
    expect(await core.auth.requestTokens.verify(fresh.token, app.id)).not.toBeNull()
    const keys = await core.keys.derivedSecrets('v3 request token')
    expect(unmasked(fresh.token, keys.at(-1)!.secret)[0]).toBe(keys.at(-1)!.tag)
  })

  it('a token of a rotated (second) key verifies until that key is retired', async () => {
    const app = await createTestApplication(core)
    const first = await core.auth.requestTokens.issue(app.id)
    // Keys made in the same millisecond are ordered by kid: make the second one newer.
    core.clock.advance(1000)
    const secondKid = await core.keys.rotate()
    const { token, issued } = await core.auth.requestTokens.issue(app.id)
    expect(await core.auth.requestTokens.verify(token, app.id)).toEqual(issued)
    expect(await core.auth.requestTokens.identify(token, [app.id])).toEqual({ appId: app.id, issued })
    expect(await core.auth.requestTokens.plausible(token)).toBe(true)
    expect(await core.keys.retire(secondKid)).toBe(true)
    expect(await core.auth.requestTokens.verify(token, app.id)).toBeNull()
    expect(await core.auth.requestTokens.identify(token, [app.id])).toBeNull()
    expect(await core.auth.requestTokens.plausible(token)).toBe(false)
    expect(await core.auth.requestTokens.verify(first.token, app.id)).toEqual(first.issued)
  })
})
