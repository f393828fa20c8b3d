// The client's own tests, run by ci/run-tests.sh against the cinepass it started in the background.
import assert from 'node:assert/strict'
import { test } from 'node:test'

const base = process.env.TMDB_BASE_URL
const key = process.env.TMDB_API_KEY

test('the login flow that would send the user to the website gets a session (--auto-approve)', async () => {
  const token = await (await fetch(`${base}/3/authentication/token/new?api_key=${key}`)).json()
  // A real app would open token.request_token on the website here; --auto-approve already approved it.
  const session = await fetch(`${base}/3/authentication/session/new?api_key=${key}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ request_token: token.request_token }),
  })
  assert.equal(session.status, 200)
  const { session_id } = await session.json()
  const account = await (await fetch(`${base}/3/account?api_key=${key}&session_id=${session_id}`)).json()
  assert.equal(account.username, 'alice')
})

test('the disabled user of the fixtures cannot sign in', async () => {
  const token = await (await fetch(`${base}/3/authentication/token/new?api_key=${key}`)).json()
  const response = await fetch(`${base}/3/authentication/token/validate_with_login?api_key=${key}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'mallory', password: 'mallory-password', request_token: token.request_token }),
  })
  assert.equal((await response.json()).status_code, 31)
})
