import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApplication, createTestUser, temporarySqliteStore, testCore, type TestUser } from '../test-support/fixtures.js'
import { RESET_LINK_TTL_MS } from './account-service.js'
import { AuthError, UsageError } from './errors.js'
import type { AccountRecord } from './store.js'

describe('AccountService', () => {
  let temp: ReturnType<typeof temporarySqliteStore>
  let core: ReturnType<typeof testCore>

  beforeAll(() => {
    temp = temporarySqliteStore()
    core = testCore(temp.store)
  })
  afterAll(async () => {
    await (temp as typeof temp | undefined)?.remove() // undefined when beforeAll failed before assigning it
  })

  const refusal = async (promise: Promise<unknown>): Promise<string> =>
    promise.then(
      () => 'resolved',
      (error: unknown) => (error instanceof AuthError ? error.code : error instanceof UsageError ? `usage: ${error.message}` : String(error)),
    )
  const accountOf = async (user: TestUser): Promise<AccountRecord> => (await core.deps.store.findAccountById(user.id))!
  const webSession = async (user: TestUser): Promise<string> => (await core.website.signIn({ ...user, address: '192.0.2.1' })).sessionToken

  it('changePassword() refuses a missing or wrong current password and a new one outside the rule, changing nothing', async () => {
    const user = await createTestUser(core)
    const token = await webSession(user)
    const change = { account: await accountOf(user), webSessionToken: token, address: '192.0.2.1' }
    expect(await refusal(core.account.changePassword({ ...change, currentPassword: undefined, newPassword: 'long enough now' }))).toBe('CREDENTIALS_REQUIRED')
    expect(await refusal(core.account.changePassword({ ...change, currentPassword: 'wrong one', newPassword: 'long enough now' }))).toBe('INVALID_LOGIN')
    expect(await refusal(core.account.changePassword({ ...change, currentPassword: user.password, newPassword: 'short' }))).toBe(
      'usage: the password must have at least 8 characters',
    )
    await expect(core.auth.verifyLogin(user.username, user.password)).resolves.toMatchObject({ id: user.id })
    expect(await core.website.accountOf(token)).not.toBeNull()
  })

  it('changePassword() keeps the website session it came through and ends the others', async () => {
    const user = await createTestUser(core)
    const kept = await webSession(user)
    const ended = await webSession(user)
    await core.account.changePassword({
      account: await accountOf(user),
      webSessionToken: kept,
      address: '192.0.2.1',
      currentPassword: user.password,
      newPassword: 'ｆｕｌｌ width phrase',
    })
    expect(await core.website.accountOf(kept)).not.toBeNull()
    expect(await core.website.accountOf(ended)).toBeNull()
    // Stored normalised: the same phrase in plain letters logs in.
    await expect(core.auth.verifyLogin(user.username, 'full width phrase')).resolves.toMatchObject({ id: user.id })
  })

  it('changePassword() leaves nothing approved before it usable after it, while the kept website session approves anew', async () => {
    const user = await createTestUser(core)
    const app = await createTestApplication(core)
    const client = await core.auth.authenticateClient({ apiKey: app.apiKey })
    const kept = await webSession(user)
    const before = (await core.auth.createRequestToken(client)).requestToken
    await core.website.approveV3(before, undefined, (await core.website.accountOf(kept))!)
    await core.account.changePassword({
      account: await accountOf(user),
      webSessionToken: kept,
      address: '192.0.2.1',
      currentPassword: user.password,
      newPassword: 'another long phrase',
    })
    expect(await refusal(core.auth.createSession(client, before))).toBe('SESSION_DENIED')
    const after = (await core.auth.createRequestToken(client)).requestToken
    await core.website.approveV3(after, undefined, (await core.website.accountOf(kept))!)
    const { sessionId } = await core.auth.createSession(client, after)
    expect((await core.auth.accountFor(client, sessionId)).id).toBe(user.id)
  })

  it('credentials() shows when a website session was last used, as its page views record it', async () => {
    const user = await createTestUser(core)
    const token = await webSession(user)
    const started = core.clock.now()
    expect((await core.account.credentials(await accountOf(user), token))[0]).toMatchObject({ kind: 'web_session', current: true, lastUsedAt: null })
    core.clock.advance(5 * 60_000)
    await core.website.accountOf(token)
    expect((await core.account.credentials(await accountOf(user), token))[0]).toMatchObject({ createdAt: started, lastUsedAt: started + 5 * 60_000 })
  })

  it('a reset link lives one hour: usable 1 ms before, refused at the hour', async () => {
    const user = await createTestUser(core)
    const { token, expiresAt } = await core.account.createResetToken(user.username.toUpperCase())
    expect(expiresAt).toBe(core.clock.now() + RESET_LINK_TTL_MS)
    core.clock.advance(RESET_LINK_TTL_MS - 1)
    await expect(core.account.resetTarget(token)).resolves.toMatchObject({ id: user.id })
    core.clock.advance(1)
    expect(await refusal(core.account.resetTarget(token))).toBe('NOT_FOUND')
    expect(await refusal(core.account.resetPassword(token, 'too late for this'))).toBe('NOT_FOUND')
  })

  it('resetPassword() refuses a new password outside the rule and keeps the link usable', async () => {
    const user = await createTestUser(core)
    const { token } = await core.account.createResetToken(user.username)
    expect(await refusal(core.account.resetPassword(token, '1234567'))).toBe('usage: the password must have at least 8 characters')
    await expect(core.account.resetPassword(token, '12345678')).resolves.toMatchObject({ id: user.id })
    expect(await refusal(core.account.resetPassword(token, 'a second use'))).toBe('NOT_FOUND')
    for (const malformed of [undefined, '', 'not hex', token.toUpperCase()]) expect(await refusal(core.account.resetTarget(malformed))).toBe('NOT_FOUND')
  })

  it('createResetToken() refuses an unknown or disabled user', async () => {
    expect(await refusal(core.account.createResetToken('nobody_at_all'))).toBe('usage: no user is named "nobody_at_all"')
    const user = await createTestUser(core)
    await core.admin.setUserDisabled(user.username, true)
    expect(await refusal(core.account.createResetToken(user.username))).toMatch(/is disabled/)
  })

  it("revoke() ignores an unknown name and another account's rows", async () => {
    const alice = await createTestUser(core)
    const bob = await createTestUser(core)
    const aliceToken = await webSession(alice)
    const bobToken = await webSession(bob)
    const bobRows = await core.account.credentials(await accountOf(bob), bobToken)
    expect(bobRows).toHaveLength(1)
    expect(await core.account.revoke(await accountOf(alice), bobRows[0]!.ref, aliceToken)).toBeNull()
    expect(await core.account.revoke(await accountOf(alice), 'f'.repeat(32), aliceToken)).toBeNull()
    expect(await core.website.accountOf(bobToken)).not.toBeNull()
    expect(await core.account.revoke(await accountOf(bob), bobRows[0]!.ref, bobToken)).toEqual({ kind: 'web_session', current: true })
    expect(await core.website.accountOf(bobToken)).toBeNull()
  })
})
