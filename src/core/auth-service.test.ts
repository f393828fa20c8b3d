import { hash, parseOptions } from '@node-rs/argon2'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createTestApplication, createTestUser, temporarySqliteStore, testCore, type TestApplication, type TestUser } from '../test-support/fixtures.js'
import type { SqliteStore } from '../store/sqlite/sqlite-store.js'
import type { ClientContext } from './context.js'
import { AuthError } from './errors.js'
import { cryptoRandom, hashSecret, randomHex } from './secrets.js'
import type { TmdbStatusName } from '../wire/status.js'
import { pendingRequestTokenRow } from '../test-support/records.js'

const HOUR = 3_600_000

let store: SqliteStore
let remove: () => Promise<void>
let core: ReturnType<typeof testCore>
let app: TestApplication
let user: TestUser
let client: ClientContext

async function rejectsWith(promise: Promise<unknown>, code: TmdbStatusName): Promise<void> {
  await expect(promise).rejects.toSatisfy((error: unknown) => error instanceof AuthError && error.code === code)
}

async function setUp(config: Parameters<typeof testCore>[1] = {}): Promise<void> {
  ;({ store, remove } = temporarySqliteStore())
  core = testCore(store, config)
  app = await createTestApplication(core)
  user = await createTestUser(core)
  client = await core.auth.authenticateClient({ apiKey: app.apiKey })
}

const login = (requestToken: string, who = user) => core.auth.validateWithLogin(client, { username: who.username, password: who.password, requestToken })

describe('AuthService', () => {
  beforeEach(async () => setUp())
  afterEach(async () => remove())

  it('createRequestToken() issues 40 lowercase hex tokens that expire after 60 minutes', async () => {
    const { requestToken, expiresAt } = await core.auth.createRequestToken(client)
    expect(requestToken).toMatch(/^[0-9a-f]{40}$/)
    expect(expiresAt).toBe(core.clock.now() + HOUR)
  })

  it('validateWithLogin() accepts a token 1 s before its expiry and refuses it at its expiry', async () => {
    const early = await core.auth.createRequestToken(client)
    const late = await core.auth.createRequestToken(client)
    core.clock.advance(HOUR - 1000)
    await expect(login(early.requestToken)).resolves.toEqual({ requestToken: early.requestToken, expiresAt: early.expiresAt, accountId: user.id })
    core.clock.advance(1000)
    await rejectsWith(login(late.requestToken), 'INVALID_REQUEST_TOKEN')
  })

  it('createSession() accepts an approved token 1 s before its expiry and refuses one at its expiry', async () => {
    const early = await core.auth.createRequestToken(client)
    const late = await core.auth.createRequestToken(client)
    await login(early.requestToken)
    await login(late.requestToken)
    core.clock.advance(HOUR - 1000)
    await expect(core.auth.createSession(client, early.requestToken)).resolves.toMatchObject({ sessionId: expect.stringMatching(/^[0-9a-f]{40}$/) })
    core.clock.advance(1000)
    await rejectsWith(core.auth.createSession(client, late.requestToken), 'INVALID_REQUEST_TOKEN')
  })

  it('createSession() refuses a consumed token', async () => {
    const { requestToken } = await core.auth.createRequestToken(client)
    await login(requestToken)
    await core.auth.createSession(client, requestToken)
    await rejectsWith(core.auth.createSession(client, requestToken), 'INVALID_REQUEST_TOKEN')
  })

  it('createSession() refuses a pending or denied token as "session denied"', async () => {
    const pending = await core.auth.createRequestToken(client)
    await rejectsWith(core.auth.createSession(client, pending.requestToken), 'SESSION_DENIED')
    const denied = await core.auth.createRequestToken(client)
    const { hashSecret } = await import('./secrets.js')
    await store.denyRequestToken(hashSecret(denied.requestToken), core.clock.now())
    await rejectsWith(core.auth.createSession(client, denied.requestToken), 'SESSION_DENIED')
  })

  it('createSession() refuses with 33 a token approved by an account disabled since, and keeps no session', async () => {
    const { requestToken } = await core.auth.createRequestToken(client)
    // The disable lands while the approval is written (on PostgreSQL an approval whose statement
    // began before the disable committed is written after the disable's denial of approved tokens
    // ran): the token stays approved under the account's previous epoch.
    await login(requestToken)
    const approved = (await store.exportAll()).requestTokens.find((token) => token.tokenHash === hashSecret(requestToken))!
    await store.setAccountDisabled(user.id, true, core.clock.now())
    const after = await store.exportAll()
    await store.replaceAll({ ...after, requestTokens: after.requestTokens.map((token) => (token.tokenHash === approved.tokenHash ? approved : token)) })
    const consume = vi.spyOn(store, 'createSessionFromRequestToken')
    await rejectsWith(core.auth.createSession(client, requestToken), 'INVALID_REQUEST_TOKEN')
    const sessionHash = consume.mock.calls[0]![3].sessionHash
    expect(await store.findSession(sessionHash)).toBeNull()
  })

  it("createSession() refuses a token approved before the user's password changed or the user was disabled", async () => {
    const changed = await core.auth.createRequestToken(client)
    await login(changed.requestToken)
    await core.admin.setUserPassword(user.username, 'a brand new password')
    await rejectsWith(core.auth.createSession(client, changed.requestToken), 'SESSION_DENIED')
    const other = await createTestUser(core)
    const disabled = await core.auth.createRequestToken(client)
    await login(disabled.requestToken, other)
    await core.admin.setUserDisabled(other.username, true)
    await rejectsWith(core.auth.createSession(client, disabled.requestToken), 'SESSION_DENIED')
  })

  it("createSession() refuses another application's token", async () => {
    const other = await createTestApplication(core, 'Other')
    const otherClient = await core.auth.authenticateClient({ apiKey: other.apiKey })
    const { requestToken } = await core.auth.createRequestToken(client)
    await login(requestToken)
    await rejectsWith(core.auth.createSession(otherClient, requestToken), 'INVALID_REQUEST_TOKEN')
    await expect(core.auth.createSession(client, requestToken)).resolves.toBeDefined()
  })

  it('createRequestToken() stores nothing; the row appears when the user approves', async () => {
    const { requestToken } = await core.auth.createRequestToken(client)
    expect((await store.exportAll()).requestTokens).toEqual([])
    await login(requestToken)
    expect((await store.exportAll()).requestTokens).toMatchObject([
      { tokenHash: hashSecret(requestToken), appId: app.id, status: 'approved', accountId: user.id },
    ])
  })

  it('a token with any one byte changed is refused with 33 by validateWithLogin() and createSession(), as an unknown one', async () => {
    const { requestToken } = await core.auth.createRequestToken(client)
    for (let byte = 0; byte < 20; byte++) {
      const digit = requestToken[byte * 2]!
      const tampered = `${requestToken.slice(0, byte * 2)}${((parseInt(digit, 16) + 1) % 16).toString(16)}${requestToken.slice(byte * 2 + 1)}`
      await rejectsWith(core.auth.createSession(client, tampered), 'INVALID_REQUEST_TOKEN')
      await rejectsWith(login(tampered), 'INVALID_REQUEST_TOKEN')
    }
    expect((await store.exportAll()).requestTokens).toEqual([])
    // The genuine one is still pending, and approvable.
    await rejectsWith(core.auth.createSession(client, requestToken), 'SESSION_DENIED')
    await expect(login(requestToken)).resolves.toBeDefined()
  })

  it('a pending token of one application is refused with 33 to another, by validateWithLogin() and createSession()', async () => {
    const other = await createTestApplication(core, 'Other')
    const otherClient = await core.auth.authenticateClient({ apiKey: other.apiKey })
    const { requestToken } = await core.auth.createRequestToken(client)
    await rejectsWith(core.auth.createSession(otherClient, requestToken), 'INVALID_REQUEST_TOKEN')
    await rejectsWith(core.auth.validateWithLogin(otherClient, { username: user.username, password: user.password, requestToken }), 'INVALID_REQUEST_TOKEN')
    expect((await store.exportAll()).requestTokens).toEqual([])
    await rejectsWith(core.auth.createSession(client, requestToken), 'SESSION_DENIED')
  })

  it('an expired pending token is refused with 33 by createSession(), not as pending', async () => {
    const { requestToken } = await core.auth.createRequestToken(client)
    core.clock.advance(HOUR - 1000)
    await rejectsWith(core.auth.createSession(client, requestToken), 'SESSION_DENIED')
    core.clock.advance(1000)
    await rejectsWith(core.auth.createSession(client, requestToken), 'INVALID_REQUEST_TOKEN')
  })

  it('a token stored by the previous version (random, with a pending row) is approved and exchanged as before', async () => {
    const stored = randomHex(cryptoRandom, 20)
    const now = core.clock.now()
    await store.insertRequestToken(pendingRequestTokenRow(app.id, now, { tokenHash: hashSecret(stored), expiresAt: now + HOUR }))
    await rejectsWith(core.auth.createSession(client, stored), 'SESSION_DENIED')
    const other = await createTestApplication(core, 'Other')
    await rejectsWith(
      core.auth.validateWithLogin(await core.auth.authenticateClient({ apiKey: other.apiKey }), {
        username: user.username,
        password: user.password,
        requestToken: stored,
      }),
      'INVALID_REQUEST_TOKEN',
    )
    await expect(login(stored)).resolves.toEqual({ requestToken: stored, expiresAt: now + HOUR, accountId: user.id })
    await expect(core.auth.createSession(client, stored)).resolves.toMatchObject({ accountId: user.id })
    await rejectsWith(core.auth.createSession(client, stored), 'INVALID_REQUEST_TOKEN')
  })

  it('a token survives a restart (a new core on the same database), and stops verifying once its signing key is retired', async () => {
    const { requestToken } = await core.auth.createRequestToken(client)
    const restarted = testCore(store, { clock: core.clock })
    const restartedClient = await restarted.auth.authenticateClient({ apiKey: app.apiKey })
    await rejectsWith(restarted.auth.createSession(restartedClient, requestToken), 'SESSION_DENIED')
    const retiring = await core.auth.createRequestToken(client)
    const [key] = await core.keys.list()
    await core.keys.retire(key!.kid)
    await rejectsWith(core.auth.createSession(client, retiring.requestToken), 'INVALID_REQUEST_TOKEN')
    await rejectsWith(login(retiring.requestToken), 'INVALID_REQUEST_TOKEN')
    // A token of the new key works.
    const fresh = await core.auth.createRequestToken(client)
    await expect(login(fresh.requestToken)).resolves.toBeDefined()
  })

  it('validateWithLogin() lets the same user validate again but refuses a second user', async () => {
    const { requestToken } = await core.auth.createRequestToken(client)
    await login(requestToken)
    await expect(login(requestToken)).resolves.toBeDefined()
    const other = await createTestUser(core)
    await rejectsWith(login(requestToken, other), 'INVALID_REQUEST_TOKEN')
  })

  it('verifyLogin() refuses an unknown user and a wrong password alike, and reveals a disabled account only to its password', async () => {
    await rejectsWith(core.auth.verifyLogin('no_such_user', 'x'), 'INVALID_LOGIN')
    await rejectsWith(core.auth.verifyLogin(user.username, 'wrong'), 'INVALID_LOGIN')
    await core.admin.setUserDisabled(user.username, true)
    await rejectsWith(core.auth.verifyLogin(user.username, 'wrong'), 'INVALID_LOGIN')
    await rejectsWith(core.auth.verifyLogin(user.username, user.password), 'ACCOUNT_DISABLED')
  })

  it('a successful login re-hashes a password stored below the policy (m=1024, t=1) and keeps the sessions', async () => {
    const { requestToken } = await core.auth.createRequestToken(client)
    await login(requestToken)
    const { sessionId } = await core.auth.createSession(client, requestToken)
    const weak = await hash(user.password, { memoryCost: 1024, timeCost: 1, parallelism: 1 })
    await store.setAccountPassword(user.id, weak, false, core.clock.now())
    await rejectsWith(core.auth.verifyLogin(user.username, 'wrong password'), 'INVALID_LOGIN')
    expect((await store.findAccountById(user.id))?.passwordHash).toBe(weak)
    await core.auth.verifyLogin(user.username, user.password)
    const upgraded = (await store.findAccountById(user.id))!.passwordHash
    expect(parseOptions(upgraded)).toMatchObject({ algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 })
    await core.auth.verifyLogin(user.username, user.password)
    // Upgraded once: a current hash is left as it is; and the session made before still works.
    expect((await store.findAccountById(user.id))!.passwordHash).toBe(upgraded)
    expect(await core.auth.accountFor(client, sessionId)).toMatchObject({ id: user.id })
  })

  it('verifyLogin() matches usernames case-insensitively and passwords exactly', async () => {
    await expect(core.auth.verifyLogin(user.username.toUpperCase(), user.password)).resolves.toMatchObject({ id: user.id })
    await rejectsWith(core.auth.verifyLogin(user.username, `${user.password} `), 'INVALID_LOGIN')
    await rejectsWith(core.auth.verifyLogin(user.username, user.password.toUpperCase()), 'INVALID_LOGIN')
  })

  it('createGuestSession() lives 24 hours: live 1 s before, dead at the boundary', async () => {
    const { guestSessionId, expiresAt } = await core.auth.createGuestSession(client)
    expect(guestSessionId).toMatch(/^[0-9a-f]{32}$/)
    expect(expiresAt).toBe(core.clock.now() + 24 * HOUR)
    core.clock.advance(24 * HOUR - 1000)
    expect(await core.auth.isLiveGuestSession(client, guestSessionId)).toBe(true)
    core.clock.advance(1000)
    expect(await core.auth.isLiveGuestSession(client, guestSessionId)).toBe(false)
  })

  it('sessions never expire by default', async () => {
    const { requestToken } = await core.auth.createRequestToken(client)
    await login(requestToken)
    const { sessionId } = await core.auth.createSession(client, requestToken)
    core.clock.advance(5 * 365 * 24 * HOUR)
    await expect(core.auth.accountFor(client, sessionId)).resolves.toMatchObject({ id: user.id })
  })

  it("accountFor() refuses a deleted session, another application's session and a malformed id with code 3", async () => {
    const { requestToken } = await core.auth.createRequestToken(client)
    await login(requestToken)
    const { sessionId } = await core.auth.createSession(client, requestToken)
    const other = await createTestApplication(core, 'Other')
    await rejectsWith(core.auth.accountFor(await core.auth.authenticateClient({ apiKey: other.apiKey }), sessionId), 'AUTHENTICATION_FAILED')
    await rejectsWith(core.auth.accountFor(client, 'nope'), 'AUTHENTICATION_FAILED')
    await rejectsWith(core.auth.accountFor(client, undefined), 'AUTHENTICATION_FAILED')
    await core.auth.deleteSession(client, sessionId)
    await rejectsWith(core.auth.accountFor(client, sessionId), 'AUTHENTICATION_FAILED')
    await rejectsWith(core.auth.deleteSession(client, sessionId), 'SESSION_NOT_FOUND')
  })

  it('authenticateClient() sees a suspension made elsewhere within a second', async () => {
    await store.setApplicationSuspended(app.id, true)
    await expect(core.auth.authenticateClient({ apiKey: app.apiKey })).resolves.toBeDefined()
    core.clock.advance(1000)
    await rejectsWith(core.auth.authenticateClient({ apiKey: app.apiKey }), 'SUSPENDED_API_KEY')
  })

  it('authenticateClient() accepts the read access token and refuses a bad API key even next to a good token', async () => {
    await expect(core.auth.authenticateClient({ bearer: app.readAccessToken })).resolves.toMatchObject({ app: { id: app.id }, apiKey: app.apiKey, user: null })
    await rejectsWith(core.auth.authenticateClient({ bearer: app.readAccessToken, apiKey: 'f'.repeat(32) }), 'INVALID_API_KEY')
    await rejectsWith(core.auth.authenticateClient({}), 'INVALID_API_KEY')
  })

  it('authenticateClient() refuses a read access token once its signing key is retired', async () => {
    const [key] = await core.keys.list()
    await core.keys.retire(key!.kid)
    await rejectsWith(core.auth.authenticateClient({ bearer: app.readAccessToken }), 'INVALID_API_KEY')
  })
})

describe('AuthService with configured lifetimes', () => {
  afterEach(async () => remove())

  it('a configured session lifetime ends a session at its boundary, not 1 s before', async () => {
    await setUp({ config: { lifetimes: { requestTokenTtlMs: 600_000, guestSessionTtlMs: 1000, sessionTtlMs: 2 * HOUR, v4RequestTokenTtlMs: 900_000 } } })
    const { requestToken, expiresAt } = await core.auth.createRequestToken(client)
    expect(expiresAt).toBe(core.clock.now() + 600_000)
    await login(requestToken)
    const { sessionId } = await core.auth.createSession(client, requestToken)
    core.clock.advance(2 * HOUR - 1000)
    await expect(core.auth.accountFor(client, sessionId)).resolves.toBeDefined()
    core.clock.advance(1000)
    await rejectsWith(core.auth.accountFor(client, sessionId), 'AUTHENTICATION_FAILED')
  })
})
