import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { temporarySqliteStore, testCore } from '../test-support/fixtures.js'
import type { ClientContext } from './context.js'
import { AuthError, DeletedMeanwhileError } from './errors.js'
import type { AccountRecord } from './store.js'

const KEY = '0123456789abcdef0123456789abcdef'

let core: ReturnType<typeof testCore>
let other: ReturnType<typeof testCore>
let removeAll: () => Promise<void>

beforeEach(() => {
  const first = temporarySqliteStore()
  const second = temporarySqliteStore()
  core = testCore(first.store)
  // Another database: its tokens are signed with keys this one does not have.
  other = testCore(second.store)
  removeAll = async () => {
    await first.remove()
    await second.remove()
  }
})
afterEach(() => removeAll())

/** A v3 session of `user` with the client's application, made the way a client makes one. */
async function sessionOf(client: ClientContext, user: AccountRecord): Promise<string> {
  const { requestToken } = await core.auth.createRequestToken(client)
  await core.website.approveV3(requestToken, undefined, user)
  return (await core.auth.createSession(client, requestToken)).sessionId
}

describe('AdminService.createApplication() with given keys', () => {
  it('uses a given API key as is, and refuses a malformed or taken one', async () => {
    const created = await core.admin.createApplication({ name: 'Fixed', apiKey: KEY })
    expect(created.api_key).toBe(KEY)
    expect((await core.auth.authenticateClient({ apiKey: KEY })).app.id).toBe(created.id)
    await expect(core.admin.createApplication({ name: 'Again', apiKey: KEY })).rejects.toThrow('another application has that API key')
    await expect(core.admin.createApplication({ name: 'Upper', apiKey: KEY.toUpperCase() })).rejects.toThrow('32 lowercase hex')
    expect((await core.admin.listApplications()).map((app) => app.name)).toEqual(['Fixed'])
  })

  it("accepts a read access token issued elsewhere for that API key, as the application's own, and nothing like it", async () => {
    const issued = await other.admin.createApplication({ name: 'Elsewhere', apiKey: KEY })
    const created = await core.admin.createApplication({ name: 'Fixed', apiKey: KEY, readAccessToken: issued.read_access_token })
    expect(created).toMatchObject({ id: issued.id, read_access_token: issued.read_access_token })
    const client = await core.auth.authenticateClient({ bearer: issued.read_access_token })
    expect([client.app.id, client.user]).toEqual([issued.id, null])
    // A later token of the other database, for the same key and id, was not given: refused.
    other.clock.advance(1000)
    const later = await other.admin.readAccessToken((await other.admin.listApplications())[0]!, KEY)
    expect(later).not.toBe(issued.read_access_token)
    await expect(core.auth.authenticateClient({ bearer: later })).rejects.toEqual(new AuthError('INVALID_API_KEY'))
  })

  it('refuses a given read access token without its API key, for another key, not a JWT, or signed by this database', async () => {
    const issued = await other.admin.createApplication({ name: 'Elsewhere', apiKey: KEY })
    await expect(core.admin.createApplication({ name: 'A', readAccessToken: issued.read_access_token })).rejects.toThrow('only be given with the API key')
    await expect(core.admin.createApplication({ name: 'B', apiKey: 'f'.repeat(32), readAccessToken: issued.read_access_token })).rejects.toThrow('"aud"')
    await expect(core.admin.createApplication({ name: 'C', apiKey: KEY, readAccessToken: 'a.b.c' })).rejects.toThrow('not a JWT')
    const own = await core.admin.createApplication({ name: 'Own' })
    await expect(
      core.admin.createApplication({
        name: 'D',
        apiKey: own.api_key.slice(0, -1) + (own.api_key.endsWith('0') ? '1' : '0'),
        readAccessToken: own.read_access_token,
      }),
    ).rejects.toThrow('"aud"')
    const mine = await core.admin.readAccessToken((await core.admin.listApplications())[0]!, KEY)
    await expect(core.admin.createApplication({ name: 'E', apiKey: KEY, readAccessToken: mine })).rejects.toThrow('names a signing key of this database')
    expect((await core.admin.listApplications()).map((app) => app.name)).toEqual(['Own'])
  })
})

describe('AdminService key rotation and deletion', () => {
  it('rotateApplicationKey() refuses the old key and read access token once the application cache (1 s) expires; sessions stay', async () => {
    const app = await core.admin.createApplication({ name: 'Rotating' })
    const user = await core.admin.createUser({ username: 'rotor', password: 'a long passphrase' })
    const before = await core.auth.authenticateClient({ apiKey: app.api_key })
    const sessionId = await sessionOf(before, user)
    const requestToken = await core.v4.createRequestToken(before, undefined)
    await core.website.approveV4(requestToken, user)
    const { accessToken } = await core.v4.createAccessToken(before, requestToken)
    expect((await core.auth.authenticateClient({ bearer: accessToken })).user?.accountId).toBe(user.id)
    const rotated = await core.admin.rotateApplicationKey(app.id)
    expect(rotated).toMatchObject({ id: app.id, name: 'Rotating' })
    expect(rotated.api_key).not.toBe(app.api_key)
    core.clock.advance(1000)
    await expect(core.auth.authenticateClient({ apiKey: app.api_key })).rejects.toEqual(new AuthError('INVALID_API_KEY'))
    await expect(core.auth.authenticateClient({ bearer: app.read_access_token })).rejects.toEqual(new AuthError('INVALID_API_KEY'))
    // A v4 user access token names the key it was issued through (its "aud"): it ends with that key.
    await expect(core.auth.authenticateClient({ bearer: accessToken })).rejects.toEqual(new AuthError('INVALID_API_KEY'))
    expect((await core.auth.authenticateClient({ bearer: rotated.read_access_token })).app.id).toBe(app.id)
    const client = await core.auth.authenticateClient({ apiKey: rotated.api_key })
    expect((await core.auth.accountFor(client, sessionId)).id).toBe(user.id)
    // The new key names the application too; the old one names nothing.
    expect((await core.admin.rotateApplicationKey(rotated.api_key)).id).toBe(app.id)
    await expect(core.admin.rotateApplicationKey(app.api_key)).rejects.toThrow('no application has that id or API key')
  })

  it('deleteApplication() and deleteUser() end their keys and sessions, and name nothing afterwards', async () => {
    const app = await core.admin.createApplication({ name: 'Doomed' })
    const kept = await core.admin.createApplication({ name: 'Kept' })
    const user = await core.admin.createUser({ username: 'leaver', password: 'a long passphrase' })
    const keptClient = await core.auth.authenticateClient({ apiKey: kept.api_key })
    const sessionId = await sessionOf(keptClient, user)
    await sessionOf(await core.auth.authenticateClient({ apiKey: app.api_key }), user)
    expect((await core.admin.deleteApplication(app.api_key)).id).toBe(app.id)
    core.clock.advance(1000)
    await expect(core.auth.authenticateClient({ apiKey: app.api_key })).rejects.toEqual(new AuthError('INVALID_API_KEY'))
    await expect(core.admin.deleteApplication(app.id)).rejects.toThrow('no application has that id or API key')
    expect((await core.auth.accountFor(keptClient, sessionId)).id).toBe(user.id)
    expect((await core.admin.deleteUser('LEAVER')).id).toBe(user.id)
    await expect(core.auth.accountFor(keptClient, sessionId)).rejects.toEqual(new AuthError('AUTHENTICATION_FAILED'))
    await expect(core.admin.deleteUser('leaver')).rejects.toThrow('no user is named "leaver"')
    expect((await core.admin.listApplications()).map((listed) => listed.name)).toEqual(['Kept'])
  })

  it('a request through a deleted application a server still has cached is told to retry (503, code 9), then refused (401, code 7)', async () => {
    const app = await core.admin.createApplication({ name: 'Cached' })
    const cached = await core.auth.authenticateClient({ apiKey: app.api_key })
    await core.admin.deleteApplication(app.id)
    const client = await core.auth.authenticateClient({ apiKey: app.api_key })
    const outcomes = await Promise.allSettled([core.auth.createGuestSession(client)])
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected')
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(DeletedMeanwhileError)
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'SERVICE_OFFLINE', retryAfterSeconds: 1 })
    }
    // A request token is no write, so one is still issued through the cached application; it names an
    // application that no longer exists, so nobody can act on it.
    const v3 = await core.auth.createRequestToken(client)
    const v4 = await core.v4.createRequestToken(cached, undefined)
    await expect(core.website.v3Approval(v3.requestToken, undefined)).rejects.toEqual(new AuthError('INVALID_REQUEST_TOKEN'))
    await expect(core.website.v4Approval(v4)).rejects.toEqual(new AuthError('INVALID_REQUEST_TOKEN'))
    // Through the cached application, storing its row names a deleted row: told to retry, as above.
    await core.admin.createUser({ username: 'cached_user', password: 'a long passphrase' })
    const login = core.auth.validateWithLogin(client, { username: 'cached_user', password: 'a long passphrase', requestToken: v3.requestToken })
    await expect(login).rejects.toBeInstanceOf(DeletedMeanwhileError)
    core.clock.advance(1000)
    await expect(core.auth.authenticateClient({ apiKey: app.api_key })).rejects.toEqual(new AuthError('INVALID_API_KEY'))
  })
})
