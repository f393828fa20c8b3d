import { createHmac } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createTestApplication, temporarySqliteStore, testCore } from '../test-support/fixtures.js'

describe('RequestTokenCodec', () => {
  let temp: ReturnType<typeof temporarySqliteStore>
  let core: ReturnType<typeof testCore>
  beforeEach(() => {
    temp = temporarySqliteStore()
    core = testCore(temp.store)
  })
  afterEach(async () => temp.remove())

  it('issue() lays out key tag, expiry in seconds, 7 random bytes and a MAC that is HMAC-SHA-256 of them and the application', async () => {
    const app = await createTestApplication(core)
    const { token, issued } = await core.auth.requestTokens.issue(app.id)
    const bytes = Buffer.from(token, 'hex')
    expect(bytes.readUInt32BE(1) * 1000).toBe(issued.expiresAt)
    expect(issued).toEqual({ appId: app.id, createdAt: core.clock.now(), expiresAt: core.clock.now() + 3_600_000 })
    const [key] = await core.keys.derivedSecrets('v3 request token')
    expect(bytes[0]).toBe(key!.tag)
    const mac = createHmac('sha256', key!.secret).update(Uint8Array.of(1)).update(bytes.subarray(0, 12)).update(app.id).digest().subarray(0, 8)
    expect(bytes.subarray(12).equals(mac)).toBe(true)
  })

  it('identify() finds the application among several, and verify() only for that one', async () => {
    const apps = [await createTestApplication(core, 'One'), await createTestApplication(core, 'Two'), await createTestApplication(core, 'Three')]
    const { token } = await core.auth.requestTokens.issue(apps[1]!.id)
    expect((await core.auth.requestTokens.identify(token, apps.map((app) => app.id)))?.appId).toBe(apps[1]!.id)
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
    expect(Buffer.from(fresh.token, 'hex')[0]).toBe(keys.at(-1)!.tag)
  })
})
