import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApplication, createTestUser, temporarySqliteStore, testCore, type TestApplication, type TestUser } from '../test-support/fixtures.js'
import type { ClientContext } from './context.js'
import { AuthError } from './errors.js'

type Core = ReturnType<typeof testCore>

/** The TMDB status code a promise is refused with. */
async function codeOf(promise: Promise<unknown>): Promise<number | string> {
  try {
    await promise
    return 'resolved'
  } catch (error) {
    if (error instanceof AuthError)
      return (
        { INVALID_PARAMETERS: 5, INVALID_API_KEY: 7, INVALID_REQUEST_TOKEN: 33, INVALID_TOKEN: 35, NO_WRITE_PERMISSION: 36, REQUEST_TOKEN_NOT_APPROVED: 41 }[
          error.code as string
        ] ?? error.code
      )
    throw error
  }
}

describe('V4Service', () => {
  let temp: ReturnType<typeof temporarySqliteStore>
  let core: Core
  let app: TestApplication
  let other: TestApplication
  let user: TestUser
  let client: ClientContext
  let otherClient: ClientContext

  beforeAll(async () => {
    temp = temporarySqliteStore()
    core = testCore(temp.store)
    await core.keys.ensureKey()
    app = await createTestApplication(core, 'Main')
    other = await createTestApplication(core, 'Other')
    user = await createTestUser(core)
    client = await core.auth.authenticateClient({ bearer: app.readAccessToken })
    otherClient = await core.auth.authenticateClient({ apiKey: other.apiKey })
  })
  afterAll(async () => {
    await (temp as typeof temp | undefined)?.remove() // undefined when beforeAll failed before assigning it
  })

  const account = async () => (await core.deps.store.findAccountById(user.id))!
  /** A request token approved by the test user, and the access token it gives. */
  const accessToken = async (forClient = client): Promise<string> => {
    const requestToken = await core.v4.createRequestToken(forClient, undefined)
    await core.website.approveV4(requestToken, await account())
    return (await core.v4.createAccessToken(forClient, requestToken)).accessToken
  }
  /** Signs `payload` with the live key, as only cinepass could. */
  const forge = async (payload: Record<string, unknown>, options: { secret?: Uint8Array; kid?: string } = {}): Promise<string> => {
    const key = (await core.deps.store.listSigningKeys()).filter((k) => k.retiredAt === null).at(-1)!
    const secret = options.secret ?? new Uint8Array(Buffer.from(key.secret, 'base64url'))
    return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: options.kid ?? key.kid }).sign(secret)
  }

  it('createRequestToken() makes a JWT with exactly the payload of the contract, valid 15 minutes', async () => {
    const token = await core.v4.createRequestToken(client, 'https://client.example/done')
    const payload = decodeJwt(token)
    expect(Object.keys(payload)).toEqual(['aud', 'jti', 'scopes', 'nbf', 'exp', 'redirect_to', 'version'])
    expect(payload).toMatchObject({ aud: app.apiKey, scopes: ['pending_request_token'], redirect_to: 'https://client.example/done', version: 2 })
    expect(payload.nbf).toBe(Math.floor(core.clock.now() / 1000))
    expect(payload.exp).toBe(payload.nbf! + 900)
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'HS256', kid: expect.any(String) })
    // Only the hash of the jti is stored.
    expect(await core.deps.store.findV4RequestToken(payload.jti!)).toBeNull()
    expect(decodeJwt(await core.v4.createRequestToken(client, undefined)).redirect_to).toBeNull()
  })

  it('createRequestToken() refuses a scriptable or relative redirect_to with 422/5', async () => {
    for (const bad of ['javascript:alert(1)', '/relative', 'data:text/html,x']) expect(await codeOf(core.v4.createRequestToken(client, bad))).toBe(5)
  })

  it('createAccessToken() gives 41 before approval, a user token after, and 33 once used', async () => {
    const requestToken = await core.v4.createRequestToken(client, undefined)
    expect(await codeOf(core.v4.createAccessToken(client, requestToken))).toBe(41)
    await core.website.approveV4(requestToken, await account())
    const { accessToken, accountId } = await core.v4.createAccessToken(client, requestToken)
    expect(accountId).toBe((await account()).objectId)
    const payload = decodeJwt(accessToken)
    expect(Object.keys(payload)).toEqual(['aud', 'nbf', 'jti', 'sub', 'scopes', 'version'])
    expect(payload).toMatchObject({ aud: app.apiKey, sub: accountId, scopes: ['api_read', 'api_write'], version: 2 })
    expect(await codeOf(core.v4.createAccessToken(client, requestToken))).toBe(33)
  })

  it("createAccessToken() refuses expired, unknown, denied, missing and other applications' tokens", async () => {
    const expiring = await core.v4.createRequestToken(client, undefined)
    await core.website.approveV4(expiring, await account())
    core.clock.advance(15 * 60 * 1000 + 1000)
    expect(await codeOf(core.v4.createAccessToken(client, expiring))).toBe(33)
    expect(
      await codeOf(core.v4.createAccessToken(client, await forge({ aud: app.apiKey, jti: 'never-issued', scopes: ['pending_request_token'], version: 2 }))),
    ).toBe(33)
    const denied = await core.v4.createRequestToken(client, undefined)
    await core.website.denyV4(denied)
    expect(await codeOf(core.v4.createAccessToken(client, denied))).toBe(41)
    const theirs = await core.v4.createRequestToken(otherClient, undefined)
    await core.website.approveV4(theirs, await account())
    expect(await codeOf(core.v4.createAccessToken(client, theirs))).toBe(33)
    expect(await codeOf(core.v4.createAccessToken(client, 'not a jwt'))).toBe(33)
    expect(await codeOf(core.v4.createAccessToken(client, undefined))).toBe(5)
  })

  it('createAccessToken() gives exactly one access token when callers race for one approved request token', async () => {
    const requestToken = await core.v4.createRequestToken(client, undefined)
    await core.website.approveV4(requestToken, await account())
    const results = await Promise.all(Array.from({ length: 8 }, () => codeOf(core.v4.createAccessToken(client, requestToken))))
    expect(results.filter((result) => result === 'resolved')).toHaveLength(1)
    expect(results.filter((result) => result === 33)).toHaveLength(7)
  })

  it('convertToSession() gives a session for a live user token, and the token works as a Bearer', async () => {
    const token = await accessToken()
    const { sessionId } = await core.v4.convertToSession(client, token)
    expect(sessionId).toMatch(/^[0-9a-f]{40}$/)
    expect((await core.auth.accountFor(client, sessionId)).id).toBe(user.id)
    const asUser = await core.auth.authenticateClient({ bearer: token })
    expect((await core.auth.accountFor(asUser, undefined)).id).toBe(user.id)
  })

  it('convertToSession() refuses the read access token with 36 and every other token, a v4 request token included, with 35', async () => {
    const good = await accessToken()
    const goodPayload = decodeJwt(good)
    const [header, body] = good.split('.')
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${body}.`
    const unsigned = `${header}.${body}.${'A'.repeat(43)}`
    const wrongKey = await forge(goodPayload, { secret: new Uint8Array(32).fill(7) })
    const nowSeconds = Math.floor(core.clock.now() / 1000)
    const expired = await forge({ ...goodPayload, exp: nowSeconds - 1 })
    const future = await forge({ ...goodPayload, nbf: nowSeconds + 3600 })
    const unknownKid = await forge(goodPayload, { kid: 'ffffffffffffffff' })
    const theirs = await accessToken(otherClient)
    const pending = await core.v4.createRequestToken(client, undefined)
    const cases: [string, string, number][] = [
      ['read access token', app.readAccessToken, 36],
      ['pending request token', pending, 35],
      ['forged read-only user token', await forge({ ...goodPayload, scopes: ['api_read'] }), 35],
      ['alg none', none, 35],
      ['bad signature', unsigned, 35],
      ['wrong key', wrongKey, 35],
      ['expired', expired, 35],
      ['future nbf', future, 35],
      ['unknown kid', unknownKid, 35],
      ["another application's", theirs, 35],
      ['not a JWT', 'abc', 35],
      ['never issued jti', await forge({ ...goodPayload, jti: 'made-up' }), 35],
    ]
    for (const [name, token, code] of cases) expect(await codeOf(core.v4.convertToSession(client, token)), name).toBe(code)
    expect(await codeOf(core.v4.convertToSession(client, undefined))).toBe(5)
    // The good token still works: the refusals did not touch it.
    expect(await codeOf(core.v4.convertToSession(client, good))).toBe('resolved')
  })

  it('deleteAccessToken() revokes at once: convert/4, DELETE again and Bearer use are then refused', async () => {
    const token = await accessToken()
    await core.v4.deleteAccessToken(client, token)
    expect(await codeOf(core.v4.convertToSession(client, token))).toBe(35)
    expect(await codeOf(core.v4.deleteAccessToken(client, token))).toBe(35)
    expect(await codeOf(core.auth.authenticateClient({ bearer: token }))).toBe(7)
    expect(await codeOf(core.v4.deleteAccessToken(client, undefined))).toBe(5)
    expect(await codeOf(core.v4.deleteAccessToken(client, 'garbage'))).toBe(35)
    expect(await codeOf(core.v4.deleteAccessToken(otherClient, await accessToken()))).toBe(35)
  })

  it('deleteAccessToken() refuses the read access token and a v4 request token with 35, not 36', async () => {
    expect(await codeOf(core.v4.deleteAccessToken(client, app.readAccessToken))).toBe(35)
    expect(await codeOf(core.v4.deleteAccessToken(client, await core.v4.createRequestToken(client, undefined)))).toBe(35)
    expect(await codeOf(core.v4.deleteAccessToken(client, other.readAccessToken))).toBe(35)
  })

  it('a rotated key leaves old tokens valid until it is retired; then they are refused', async () => {
    const before = await accessToken()
    const oldKid = decodeProtectedHeader(before).kid!
    const newKid = await core.keys.rotate()
    const after = await accessToken()
    expect(decodeProtectedHeader(after).kid).toBe(newKid)
    expect(await codeOf(core.v4.convertToSession(client, before))).toBe('resolved')
    expect(await core.keys.retire(oldKid)).toBe(true)
    expect(await codeOf(core.v4.convertToSession(client, before))).toBe(35)
    expect(await codeOf(core.v4.convertToSession(client, after))).toBe('resolved')
  })

  it('disabling the user ends their access tokens', async () => {
    const victim = await createTestUser(core)
    const requestToken = await core.v4.createRequestToken(client, undefined)
    await core.website.approveV4(requestToken, (await core.deps.store.findAccountById(victim.id))!)
    const { accessToken: token } = await core.v4.createAccessToken(client, requestToken)
    await core.admin.setUserDisabled(victim.username, true)
    expect(await codeOf(core.v4.convertToSession(client, token))).toBe(35)
  })
})
