import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { TMDB, TMDBError } from '@lorenzopant/tmdb'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ManualClock } from '../core/clock.js'
import { purgeAllExpired } from '../core/purge.js'
import { hashSecret } from '../core/secrets.js'
import { call, startTestServer, testBackends, type TestServer } from '../test-support/fixtures.js'

const run = promisify(execFile)
const CLI = join(import.meta.dirname, '../../dist/cli/main.js')

describe.each(await testBackends('v4 routes'))('v4 authentication over HTTP on %s', (backend) => {
  let server: TestServer
  const clock = new ManualClock(Date.now())

  beforeAll(async () => {
    server = await startTestServer({ overrides: { clock }, backend, transport: 'inject' })
  })
  afterAll(async () => {
    await (server as TestServer | undefined)?.stop() // undefined when beforeAll failed before assigning it
  })

  /** The npm client, pointed at this server, speaking for the test application. */
  const tmdbClient = (): TMDB => {
    const tmdb = new TMDB(server.application.readAccessToken)
    // The package has no base-URL option; its client keeps the URL in a field.
    ;(tmdb.v4 as unknown as { client: { baseUrl: string } }).client.baseUrl = `${server.base}/4`
    ;(tmdb as unknown as { client: { baseUrl: string } }).client.baseUrl = `${server.base}/3`
    return tmdb
  }
  const approve = async (requestToken: string): Promise<void> => {
    const account = (await server.store.findAccountById(server.user.id))!
    await server.core.website.approveV4(requestToken, account)
  }
  const bearer = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' })
  const convert = (accessToken: string) =>
    call(`${server.base}/3/authentication/session/convert/4`, {
      method: 'POST',
      headers: bearer(server.application.readAccessToken),
      body: JSON.stringify({ access_token: accessToken }),
    })

  it('POST /4/auth/request_token stores no row: the token is stored only once the user decides', async () => {
    const rows = async () => (await server.store.exportAll()).v4RequestTokens.length
    const before = await rows()
    const tmdb = tmdbClient()
    const tokens = await Promise.all(Array.from({ length: 10 }, () => tmdb.v4.auth.create_request_token()))
    expect(await rows()).toBe(before)
    await expect(tmdb.v4.auth.create_access_token({ request_token: tokens[0]!.request_token })).rejects.toMatchObject({
      http_status_code: 422,
      tmdb_status_code: 41,
    })
    expect(await rows()).toBe(before)
    await approve(tokens[1]!.request_token)
    expect(await rows()).toBe(before + 1)
  })

  it('runs the whole v4 flow through @lorenzopant/tmdb: request token, approval, access token, convert/4, logout', async () => {
    const tmdb = tmdbClient()
    const created = await tmdb.v4.auth.create_request_token({ redirect_to: 'https://client.example/done' })
    expect(created).toMatchObject({ success: true, status_code: 1, status_message: 'Success.' })
    const requestToken = created.request_token
    await expect(tmdb.v4.auth.create_access_token({ request_token: requestToken })).rejects.toMatchObject({ http_status_code: 422, tmdb_status_code: 41 })
    await approve(requestToken)
    const access = await tmdb.v4.auth.create_access_token({ request_token: requestToken })
    expect(access).toMatchObject({ success: true, status_code: 1, status_message: 'Success.' })
    const account = (await server.store.findAccountById(server.user.id))!
    expect(access.account_id).toBe(account.objectId)
    await expect(tmdb.v4.auth.create_access_token({ request_token: requestToken })).rejects.toMatchObject({ http_status_code: 401, tmdb_status_code: 33 })

    const converted = await convert(access.access_token)
    expect(converted.status).toBe(200)
    expect(Object.keys(converted.body)).toEqual(['success', 'session_id'])
    const viaSession = await call(`${server.base}/3/account?api_key=${server.application.apiKey}&session_id=${converted.body.session_id}`)
    expect(viaSession.body.username).toBe(server.user.username)

    // The user's own access token is a Bearer for /3/account.
    const asUser = new TMDB(access.access_token)
    ;(asUser as unknown as { client: { baseUrl: string } }).client.baseUrl = `${server.base}/3`
    expect((await call(`${server.base}/3/account`, { headers: bearer(access.access_token) })).body.username).toBe(server.user.username)

    const deleted = await tmdb.v4.auth.delete_access_token({ access_token: access.access_token })
    expect(deleted).toEqual({ success: true, status_code: 13, status_message: 'The item/record was deleted successfully.' })
    // Logged out: refused everywhere.
    expect((await call(`${server.base}/3/account`, { headers: bearer(access.access_token) })).body.status_code).toBe(7)
    expect((await convert(access.access_token)).body.status_code).toBe(35)
    await expect(tmdb.v4.auth.delete_access_token({ access_token: access.access_token })).rejects.toBeInstanceOf(TMDBError)
  })

  it('DELETE /4/auth/access_token ends the sessions convert/4 made from it, and only those', async () => {
    const accessToken = async (): Promise<string> => {
      const created = await call(`${server.base}/4/auth/request_token`, { method: 'POST', headers: bearer(server.application.readAccessToken), body: '{}' })
      await approve(created.body.request_token)
      const access = await call(`${server.base}/4/auth/access_token`, {
        method: 'POST',
        headers: bearer(server.application.readAccessToken),
        body: JSON.stringify({ request_token: created.body.request_token }),
      })
      expect(access.status).toBe(200)
      return access.body.access_token
    }
    const account = (sessionId: string) => call(`${server.base}/3/account?api_key=${server.application.apiKey}&session_id=${sessionId}`)
    const [deleted, kept] = [await accessToken(), await accessToken()]
    const converted: string[] = []
    for (let i = 0; i < 5; i++) converted.push((await convert(deleted)).body.session_id)
    const fromKept = (await convert(kept)).body.session_id
    for (const sessionId of [...converted, fromKept]) expect((await account(sessionId)).status).toBe(200)
    const answer = await call(`${server.base}/4/auth/access_token`, {
      method: 'DELETE',
      headers: bearer(server.application.readAccessToken),
      body: JSON.stringify({ access_token: deleted }),
    })
    expect(answer.status).toBe(200)
    for (const sessionId of converted) expect(await account(sessionId)).toMatchObject({ status: 401, body: { success: false, status_code: 3 } })
    expect((await account(fromKept)).status).toBe(200)
  })

  it('answers the v4 refusals with the contract codes and TMDB bodies', async () => {
    const readBearer = bearer(server.application.readAccessToken)
    const missing = await call(`${server.base}/4/auth/access_token`, { method: 'DELETE', headers: readBearer })
    expect(missing.status).toBe(422)
    expect(missing.body).toEqual({ success: false, status_code: 5, status_message: 'Invalid parameters: Your request parameters are incorrect.' })
    const invalid = await call(`${server.base}/4/auth/access_token`, { method: 'DELETE', headers: readBearer, body: JSON.stringify({ access_token: 'x.y.z' }) })
    expect(invalid.status).toBe(401)
    expect(invalid.body).toEqual({ success: false, status_code: 35, status_message: 'Invalid token.' })
    const unknown = await call(`${server.base}/4/auth/access_token`, { method: 'POST', headers: readBearer, body: JSON.stringify({ request_token: 'abc' }) })
    expect(unknown.status).toBe(401)
    expect(unknown.body.status_code).toBe(33)
    const read = await convert(server.application.readAccessToken)
    expect(read.status).toBe(401)
    expect(read.body).toEqual({ success: false, status_code: 36, status_message: "This token hasn't been granted write permission by the user." })
    // 36 is for the read access token where a user token is required; anything else is 35.
    const requestToken = (await call(`${server.base}/4/auth/request_token`, { method: 'POST', headers: readBearer })).body.request_token as string
    expect((await convert(requestToken)).body).toEqual({ success: false, status_code: 35, status_message: 'Invalid token.' })
    const deleteRead = await call(`${server.base}/4/auth/access_token`, {
      method: 'DELETE',
      headers: readBearer,
      body: JSON.stringify({ access_token: server.application.readAccessToken }),
    })
    expect(deleteRead.status).toBe(401)
    expect(deleteRead.body).toEqual({ success: false, status_code: 35, status_message: 'Invalid token.' })
    const noCredentials = await call(`${server.base}/4/auth/request_token`, { method: 'POST' })
    expect(noCredentials.body.status_code).toBe(7)
    const wrongMethod = await call(`${server.base}/4/auth/request_token`, { headers: readBearer })
    expect(wrongMethod.status).toBe(405)
    // A JSON null for the optional redirect_to is no redirect_to.
    const nullRedirect = await call(`${server.base}/4/auth/request_token`, { method: 'POST', headers: readBearer, body: JSON.stringify({ redirect_to: null }) })
    expect(nullRedirect.status).toBe(200)
    expect(decodeJwt(nullRedirect.body.request_token).redirect_to).toBeNull()
    const emptyAccessToken = await call(`${server.base}/4/auth/access_token`, {
      method: 'DELETE',
      headers: readBearer,
      body: JSON.stringify({ access_token: '' }),
    })
    expect(emptyAccessToken.status).toBe(422)
    const badRedirect = await call(`${server.base}/4/auth/request_token`, {
      method: 'POST',
      headers: readBearer,
      body: JSON.stringify({ redirect_to: 'javascript:alert(1)' }),
    })
    expect(badRedirect.status).toBe(422)
  })

  it('an expired request token gives 33', async () => {
    const tmdb = tmdbClient()
    const { request_token: requestToken } = await tmdb.v4.auth.create_request_token()
    await approve(requestToken)
    clock.advance(16 * 60 * 1000)
    await expect(tmdb.v4.auth.create_access_token({ request_token: requestToken })).rejects.toMatchObject({ http_status_code: 401, tmdb_status_code: 33 })
  })

  it('`cinepass keys rotate` keeps old tokens valid until `cinepass keys retire KID`', async () => {
    if (!existsSync(CLI)) throw new Error(`build first (npm run build): ${CLI} is missing`)
    const tmdb = tmdbClient()
    const { request_token: requestToken } = await tmdb.v4.auth.create_request_token()
    await approve(requestToken)
    const { access_token: before } = await tmdb.v4.auth.create_access_token({ request_token: requestToken })
    const oldKid = decodeProtectedHeader(before).kid!
    const env = { ...process.env, NODE_ENV: 'production' }
    const rotated = JSON.parse((await run(process.execPath, [CLI, 'keys', 'rotate', '--database', server.dbPath, '--json'], { env })).stdout) as { kid: string }
    expect(rotated.kid).not.toBe(oldKid)
    clock.advance(2000) // past the one-second key cache
    const { request_token: fresh } = await tmdb.v4.auth.create_request_token()
    expect(decodeProtectedHeader(fresh).kid).toBe(rotated.kid)
    expect((await convert(before)).status).toBe(200)
    await run(process.execPath, [CLI, 'keys', 'retire', oldKid, '--database', server.dbPath, '--json'], { env })
    clock.advance(2000)
    // The retired key also signed the application's read access token, so the API key speaks for it now.
    const converted = await call(`${server.base}/3/authentication/session/convert/4?api_key=${server.application.apiKey}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ access_token: before }),
    })
    expect(converted.body.status_code).toBe(35)
    expect((await call(`${server.base}/3/account`, { headers: bearer(before) })).body.status_code).toBe(7)
    expect(decodeJwt(fresh).version).toBe(2)
  })
})

describe.each(await testBackends('convert/4 limits'))('convert/4 limits over HTTP on %s', (backend) => {
  let server: TestServer
  const clock = new ManualClock(Date.now())
  const TTL_SECONDS = 3600

  beforeAll(async () => {
    const env = { CINEPASS_RATE_LIMIT: '1000', CINEPASS_CONVERT_LIMIT: '3', CINEPASS_SESSION_TTL: String(TTL_SECONDS) }
    server = await startTestServer({ env, overrides: { clock }, backend, transport: 'inject' })
  })
  afterAll(async () => {
    // Undefined when beforeAll failed before assigning it.
    await (server as TestServer | undefined)?.stop()
  })

  it('caps convert/4 per address per hour (429/25), and its sessions end after CINEPASS_SESSION_TTL and are purged', async () => {
    const headers = { authorization: `Bearer ${server.application.readAccessToken}`, 'content-type': 'application/json' }
    const created = await call(`${server.base}/4/auth/request_token`, { method: 'POST', headers, body: '{}' })
    await server.core.website.approveV4(created.body.request_token, (await server.store.findAccountById(server.user.id))!)
    const access = await call(`${server.base}/4/auth/access_token`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ request_token: created.body.request_token }),
    })
    const convert = () =>
      call(`${server.base}/3/authentication/session/convert/4`, { method: 'POST', headers, body: JSON.stringify({ access_token: access.body.access_token }) })
    const sessions: string[] = []
    for (let i = 0; i < 3; i++) {
      const converted = await convert()
      expect(converted.status).toBe(200)
      sessions.push(converted.body.session_id)
    }
    const refused = await convert()
    expect(refused).toMatchObject({ status: 429, body: { success: false, status_code: 25 } })
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)

    const account = (sessionId: string) => call(`${server.base}/3/account?api_key=${server.application.apiKey}&session_id=${sessionId}`)
    expect((await account(sessions[0]!)).status).toBe(200)
    clock.advance(TTL_SECONDS * 1000 - 1)
    expect((await account(sessions[0]!)).status).toBe(200)
    clock.advance(1)
    expect(await account(sessions[0]!)).toMatchObject({ status: 401, body: { status_code: 3 } })
    await purgeAllExpired(server.store, clock)
    for (const sessionId of sessions) expect(await server.store.findSession(hashSecret(sessionId))).toBeNull()
  })
})
