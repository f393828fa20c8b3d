import { expect, test } from '@playwright/test'

// The `request` fixture needs no browser; a page test would sign in on cinepass's website the same way.
test('the v3 login flow against the cinepass of the global setup', async ({ request }) => {
  const base = process.env.TMDB_BASE_URL
  const key = process.env.TMDB_API_KEY
  const token = await (await request.get(`${base}/3/authentication/token/new?api_key=${key}`)).json()
  const validated = await request.post(`${base}/3/authentication/token/validate_with_login?api_key=${key}`, {
    data: { username: process.env.TMDB_USERNAME, password: process.env.TMDB_PASSWORD, request_token: token.request_token },
  })
  expect(validated.status()).toBe(200)
  const session = await (await request.post(`${base}/3/authentication/session/new?api_key=${key}`, { data: { request_token: token.request_token } })).json()
  const account = await (await request.get(`${base}/3/account?api_key=${key}&session_id=${session.session_id}`)).json()
  expect(account.username).toBe(process.env.TMDB_USERNAME)
})
