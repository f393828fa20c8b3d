import { TMDB, TMDBError } from '@lorenzopant/tmdb'
import { MovieDb } from 'moviedb-promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, startTestServer, type TestServer } from '../test-support/fixtures.js'

let server: TestServer

beforeAll(async () => {
  server = await startTestServer()
})

afterAll(async () => {
  await (server as TestServer | undefined)?.stop() // undefined when beforeAll failed before assigning it
})

/** Points @lorenzopant/tmdb at cinepass: it has no base-URL option, so its client's field is set. */
function lorenzopantClient(credential: string): TMDB {
  const tmdb = new TMDB(credential)
  ;(tmdb as unknown as { client: { baseUrl: string } }).client.baseUrl = `${server.base}/3`
  return tmdb
}

describe('@lorenzopant/tmdb against cinepass', () => {
  it('runs the whole v3 login flow with an API key: token, login, session, account, logout', async () => {
    const tmdb = lorenzopantClient(server.application.apiKey)
    expect(await tmdb.authentication.validate_key()).toMatchObject({ success: true, status_code: 1 })
    const token = await tmdb.authentication.create_request_token()
    expect(token.request_token).toMatch(/^[0-9a-f]{40}$/)
    const validated = await tmdb.authentication.create_session_with_login({
      username: server.user.username,
      password: server.user.password,
      request_token: token.request_token,
    })
    expect(validated.request_token).toBe(token.request_token)
    const { session_id } = await tmdb.authentication.create_session({ request_token: token.request_token })
    const account = await tmdb.account.details({ account_id: server.user.id, session_id })
    expect(account).toMatchObject({ id: server.user.id, username: server.user.username })
    expect(await tmdb.authentication.delete_session({ session_id })).toMatchObject({ success: true })
    await expect(tmdb.account.details({ account_id: server.user.id, session_id })).rejects.toMatchObject({ http_status_code: 401, tmdb_status_code: 3 })
  })

  it('authenticates with the read access token (JWT, sent as Bearer) and creates a guest session', async () => {
    const tmdb = lorenzopantClient(server.application.readAccessToken)
    const guest = await tmdb.authentication.create_guest_session()
    expect(guest.guest_session_id).toMatch(/^[0-9a-f]{32}$/)
  })

  it('surfaces TMDB errors with their status codes', async () => {
    const tmdb = lorenzopantClient(server.application.apiKey)
    const token = await tmdb.authentication.create_request_token()
    const failure = await tmdb.authentication
      .create_session_with_login({ username: server.user.username, password: 'wrong', request_token: token.request_token })
      .catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(TMDBError)
    expect(failure).toMatchObject({ http_status_code: 401, tmdb_status_code: 30 })
    const denied = await tmdb.authentication.create_session({ request_token: token.request_token }).catch((error: unknown) => error)
    expect(denied).toMatchObject({ http_status_code: 401, tmdb_status_code: 17 })
  })
})

describe('moviedb-promise against cinepass', () => {
  it('runs the login flow: cached request token, approval, session, account', async () => {
    const moviedb = new MovieDb(server.application.apiKey, `${server.base}/3/`)
    const token = await moviedb.requestToken()
    // It caches the token until expires_at, so the timestamp must parse as a date in the future.
    expect(new Date(token.expires_at!).getTime()).toBeGreaterThan(Date.now())
    expect((await moviedb.requestToken()).request_token).toBe(token.request_token)
    const approved = await call(
      `${server.base}/3/authentication/token/validate_with_login?api_key=${server.application.apiKey}&username=${server.user.username}&password=${encodeURIComponent(server.user.password)}&request_token=${token.request_token}`,
    )
    expect(approved.status).toBe(200)
    const sessionId = await moviedb.retrieveSession()
    expect(sessionId).toMatch(/^[0-9a-f]{40}$/)
    // From now on it sends session_id on every call, account included.
    const account = await moviedb.accountInfo()
    expect(account).toMatchObject({ id: server.user.id, username: server.user.username })
  })

  it('gets a TMDB error for a session it asks for before approval', async () => {
    const moviedb = new MovieDb(server.application.apiKey, `${server.base}/3/`)
    const failure = (await moviedb.retrieveSession().catch((error: unknown) => error)) as { response?: { status: number; data: unknown } }
    expect(failure.response?.status).toBe(401)
    expect(failure.response?.data).toEqual({ success: false, failure: true, status_code: 17, status_message: 'Session denied.' })
  })
})
