import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApplication, createTestUser, temporarySqliteStore, testCore, type TestApplication, type TestUser } from '../test-support/fixtures.js'
import type { ClientContext } from './context.js'
import { AuthError } from './errors.js'
import { cryptoRandom, hashSecret, randomHex } from './secrets.js'
import { DEFAULT_WEB_SESSION_TTL_MS } from './website-service.js'
import { pendingRequestTokenRow, pendingV4RequestTokenRow } from '../test-support/records.js'

describe('WebsiteService', () => {
  let temp: ReturnType<typeof temporarySqliteStore>
  let core: ReturnType<typeof testCore>
  let app: TestApplication
  let client: ClientContext
  let alice: TestUser
  let bob: TestUser

  beforeAll(async () => {
    temp = temporarySqliteStore()
    core = testCore(temp.store)
    app = await createTestApplication(core)
    client = await core.auth.authenticateClient({ apiKey: app.apiKey })
    alice = await createTestUser(core)
    bob = await createTestUser(core)
  })
  afterAll(async () => {
    await (temp as typeof temp | undefined)?.remove() // undefined when beforeAll failed before assigning it
  })

  const refusal = async (promise: Promise<unknown>): Promise<string> =>
    promise.then(
      () => 'resolved',
      (error: unknown) => (error instanceof AuthError ? error.code : String(error)),
    )
  const accountOf = async (user: TestUser) => (await core.deps.store.findAccountById(user.id))!

  it('signIn() refuses like validate_with_login: missing, wrong, unknown, disabled', async () => {
    expect(await refusal(core.website.signIn({ username: alice.username, password: '', address: '127.0.0.1' }))).toBe('CREDENTIALS_REQUIRED')
    expect(await refusal(core.website.signIn({ username: alice.username, password: 'nope', address: '127.0.0.1' }))).toBe('INVALID_LOGIN')
    expect(await refusal(core.website.signIn({ username: 'nobody', password: 'nope', address: '127.0.0.1' }))).toBe('INVALID_LOGIN')
    const carol = await createTestUser(core)
    await core.admin.setUserDisabled(carol.username, true)
    expect(await refusal(core.website.signIn({ username: carol.username, password: carol.password, address: '127.0.0.1' }))).toBe('ACCOUNT_DISABLED')
  })

  it('accountOf() ends with the website session lifetime and with sign-out', async () => {
    const { sessionToken } = await core.website.signIn({ username: alice.username, password: alice.password, address: '127.0.0.1' })
    expect((await core.website.accountOf(sessionToken))?.id).toBe(alice.id)
    core.clock.advance(DEFAULT_WEB_SESSION_TTL_MS)
    expect(await core.website.accountOf(sessionToken)).toBeNull()
    const second = await core.website.signIn({ username: alice.username, password: alice.password, address: '127.0.0.1' })
    await core.website.signOut(second.sessionToken, '127.0.0.1')
    expect(await core.website.accountOf(second.sessionToken)).toBeNull()
    expect(await core.website.accountOf('not-a-token')).toBeNull()
  })

  it('approveV3() refuses a token another user already approved', async () => {
    const { requestToken } = await core.auth.createRequestToken(client)
    expect(await core.website.approveV3(requestToken, undefined, await accountOf(alice))).toBeNull()
    // The same user may approve again; another may not.
    expect(await refusal(core.website.approveV3(requestToken, undefined, await accountOf(alice)))).toBe('resolved')
    expect(await refusal(core.website.approveV3(requestToken, undefined, await accountOf(bob)))).toBe('INVALID_REQUEST_TOKEN')
    expect((await core.auth.createSession(client, requestToken)).sessionId).toMatch(/^[0-9a-f]{40}$/)
  })

  it('denyV3() refuses a token that is no longer pending', async () => {
    const { requestToken } = await core.auth.createRequestToken(client)
    expect(await core.website.denyV3(requestToken, 'myapp://cb')).toBe(`myapp://cb?request_token=${requestToken}&denied=true`)
    expect(await refusal(core.website.denyV3(requestToken, undefined))).toBe('INVALID_REQUEST_TOKEN')
    expect(await refusal(core.website.approveV3(requestToken, undefined, await accountOf(alice)))).toBe('INVALID_REQUEST_TOKEN')
  })

  it("v3Approval() names the application of a token that has no row, among several, and refuses a suspended one's", async () => {
    const others = [await createTestApplication(core, 'Second app'), await createTestApplication(core, 'Third app')]
    const second = await core.auth.authenticateClient({ apiKey: others[0]!.apiKey })
    const { requestToken } = await core.auth.createRequestToken(second)
    expect((await core.website.v3Approval(requestToken, undefined)).app).toMatchObject({ id: others[0]!.id, name: 'Second app' })
    expect((await core.website.v3Approval((await core.auth.createRequestToken(client)).requestToken, undefined)).app.id).toBe(app.id)
    await core.admin.setApplicationSuspended(others[0]!.apiKey, true)
    expect(await refusal(core.website.v3Approval(requestToken, undefined))).toBe('INVALID_REQUEST_TOKEN')
    expect(await refusal(core.website.approveV3(requestToken, undefined, await accountOf(alice)))).toBe('INVALID_REQUEST_TOKEN')
    expect(await core.deps.store.findRequestToken(hashSecret(requestToken))).toBeNull()
  })

  it('v3 and v4 tokens stored by the previous version (with a pending row) are named, approved and denied as before', async () => {
    const now = core.clock.now()
    const stored = () => randomHex(cryptoRandom, 20)
    const [approved, denied] = [stored(), stored()]
    for (const token of [approved, denied]) {
      await core.deps.store.insertRequestToken(pendingRequestTokenRow(app.id, now, { tokenHash: hashSecret(token) }))
      expect((await core.website.v3Approval(token, undefined)).app.id).toBe(app.id)
    }
    expect(await core.website.approveV3(approved, undefined, await accountOf(alice))).toBeNull()
    expect(await core.website.denyV3(denied, undefined)).toBeNull()
    expect(await core.auth.createSession(client, approved)).toMatchObject({ accountId: alice.id })
    expect(await refusal(core.auth.createSession(client, denied))).toBe('SESSION_DENIED')

    const v4 = await core.v4.createRequestToken(client, undefined)
    const idHash = (await core.v4.verifyRequestToken(v4))!.idHash
    await core.deps.store.insertV4RequestToken(pendingV4RequestTokenRow(app.id, now, { idHash }))
    expect(await core.website.approveV4(v4, await accountOf(bob))).toBeNull()
    expect(await core.deps.store.findV4RequestToken(idHash)).toMatchObject({ status: 'approved', accountId: bob.id, expiresAt: now + 900_000 })
  })

  it('signUp() is refused when sign-up is closed', async () => {
    const closed = testCore(temp.store, { config: { signup: 'closed' } })
    expect(await refusal(closed.website.signUp({ username: 'someone', password: 'pw', email: undefined, address: '127.0.0.1' }))).toBe('NOT_FOUND')
    expect(await core.deps.store.findAccountByUsername('someone')).toBeNull()
  })

  it('approveV4() and denyV4() return the redirect serialised as ASCII', async () => {
    const account = await accountOf(alice)
    const approved = await core.v4.createRequestToken(client, 'https://a.example/€?x=€')
    expect(await core.website.approveV4(approved, account)).toBe('https://a.example/%E2%82%AC?x=%E2%82%AC')
    const denied = await core.v4.createRequestToken(client, 'myapp://cb/€')
    expect(await core.website.denyV4(denied)).toBe('myapp://cb/%E2%82%AC')
  })

  it('approveV4() and denyV4() commit nothing when the redirect cannot be built (its application is suspended meanwhile)', async () => {
    const account = await accountOf(alice)
    const token = await core.v4.createRequestToken(client, 'https://a.example/back')
    await core.admin.setApplicationSuspended(app.apiKey, true)
    try {
      expect(await refusal(core.website.approveV4(token, account))).toBe('INVALID_REQUEST_TOKEN')
      expect(await refusal(core.website.denyV4(token))).toBe('INVALID_REQUEST_TOKEN')
    } finally {
      await core.admin.setApplicationSuspended(app.apiKey, false)
    }
    // Still pending: neither approved nor denied, and it can be approved now.
    expect(await refusal(core.website.v4Decided(token, 'approved'))).toBe('INVALID_REQUEST_TOKEN')
    expect(await refusal(core.website.v4Decided(token, 'denied'))).toBe('INVALID_REQUEST_TOKEN')
    expect(await core.website.approveV4(token, account)).toBe('https://a.example/back')
    expect((await core.website.v4Decided(token, 'approved')).id).toBe(app.id)
  })
})
