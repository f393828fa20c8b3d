// vitest (TypeScript): `await using` closes the server at the end of the test, even when it fails.
import { expect, test } from 'vitest'
import { startTestServer, type Fixtures } from 'cinepass/testing'

const fixtures: Fixtures = {
  apps: [{ name: 'My TMDB client', api_key: '00000000000000000000000000c1e7a5' }],
  users: [{ username: 'alice', password: 'alice-password' }],
}

test('v4: the user approves, the client gets an access token and a v3 session from it', async () => {
  await using cp = await startTestServer({ fixtures })
  const bearer = { authorization: `Bearer ${cp.readAccessToken}`, 'content-type': 'application/json' }
  const post = async (path: string, body: object, headers: Record<string, string> = bearer): Promise<any> =>
    (await fetch(`${cp.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) })).json()

  const { request_token } = await post('/4/auth/request_token', { redirect_to: 'http://localhost:3000/done' })
  await cp.approve(request_token)
  const { access_token, account_id } = await post('/4/auth/access_token', { request_token })
  expect(account_id).toBe(cp.users[0]!.accountObjectId)
  const { session_id } = await post(`/3/authentication/session/convert/4?api_key=${cp.apiKey}`, { access_token }, { 'content-type': 'application/json' })
  expect(session_id).toMatch(/^[0-9a-f]{40}$/)
})

test('a service outage reaches the client as TMDB reports it', async () => {
  await using cp = await startTestServer({ fixtures })
  cp.failNext({ path: '/3/authentication/token/new', status: 503, code: 9 })
  const response = await fetch(`${cp.url}/3/authentication/token/new?api_key=${cp.apiKey}`)
  expect(response.status).toBe(503)
  expect(await response.json()).toMatchObject({ success: false, status_code: 9 })
})
