import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApplication, createTestUser, temporarySqliteStore, testCore, type TestApplication, type TestUser } from '../test-support/fixtures.js'
import type { ClientContext } from './context.js'
import { AuthError } from './errors.js'

describe('WebsiteService v4 redirects', () => {
  let temp: ReturnType<typeof temporarySqliteStore>
  let core: ReturnType<typeof testCore>
  let app: TestApplication
  let client: ClientContext
  let alice: TestUser

  beforeAll(async () => {
    temp = temporarySqliteStore()
    core = testCore(temp.store)
    app = await createTestApplication(core)
    client = await core.auth.authenticateClient({ apiKey: app.apiKey })
    alice = await createTestUser(core)
  })
  afterAll(async () => {
    await temp?.remove()
  })

  const refusal = async (promise: Promise<unknown>): Promise<string> =>
    promise.then(
      () => 'resolved',
      (error: unknown) => (error instanceof AuthError ? error.code : String(error)),
    )

  it('approveV4() and denyV4() return the redirect serialised as ASCII', async () => {
    const account = (await core.deps.store.findAccountById(alice.id))!
    const approved = await core.v4.createRequestToken(client, 'https://a.example/€?x=€')
    expect(await core.website.approveV4(approved, account)).toBe('https://a.example/%E2%82%AC?x=%E2%82%AC')
    const denied = await core.v4.createRequestToken(client, 'myapp://cb/€')
    expect(await core.website.denyV4(denied)).toBe('myapp://cb/%E2%82%AC')
  })

  it('approveV4() and denyV4() commit nothing when the redirect cannot be built (its application is suspended meanwhile)', async () => {
    const account = (await core.deps.store.findAccountById(alice.id))!
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
