// node --test: one cinepass per test file, shared by its tests.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { startTestServer } from 'cinepass/testing'

let cp
before(async () => {
  cp = await startTestServer({ fixtures: fileURLToPath(new URL('../fixtures.json', import.meta.url)) })
})
after(() => cp.close())

// What a client's login code does, against cinepass instead of api.themoviedb.org.
async function tmdb(path, { method = 'GET', body } = {}) {
  const response = await fetch(`${cp.url}/3${path}${path.includes('?') ? '&' : '?'}api_key=${cp.apiKey}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  })
  return { status: response.status, headers: response.headers, body: await response.json() }
}

test('a user approves the request token on the website (no browser needed), and the client gets a session', async () => {
  const { body: token } = await tmdb('/authentication/token/new')
  await cp.approve(token.request_token, 'alice')
  const { body: session } = await tmdb('/authentication/session/new', { method: 'POST', body: { request_token: token.request_token } })
  const { body: account } = await tmdb(`/account?session_id=${session.session_id}`)
  assert.equal(account.username, 'alice')
})

test('the client handles a denied token', async () => {
  const { body: token } = await tmdb('/authentication/token/new')
  await cp.deny(token.request_token)
  const refused = await tmdb('/authentication/session/new', { method: 'POST', body: { request_token: token.request_token } })
  assert.deepEqual([refused.status, refused.body.status_code], [401, 17])
})

test('the client retries after a 429 with Retry-After', async () => {
  cp.failNext({ path: '/3/authentication/token/new', status: 429, code: 25 })
  const limited = await tmdb('/authentication/token/new')
  assert.deepEqual([limited.status, limited.body.status_code, limited.headers.get('retry-after')], [429, 25, '1'])
  assert.equal((await tmdb('/authentication/token/new')).status, 200)
})

test('an hour later, the request token has expired', async () => {
  const { body: token } = await tmdb('/authentication/token/new')
  cp.clock.advance(61 * 60 * 1000)
  const late = await tmdb('/authentication/token/validate_with_login', {
    method: 'POST',
    body: { username: 'alice', password: 'alice-password', request_token: token.request_token },
  })
  assert.equal(late.body.status_code, 33)
})
