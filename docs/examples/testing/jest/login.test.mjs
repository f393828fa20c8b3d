// jest, as ES modules: run with NODE_OPTIONS=--experimental-vm-modules (cinepass is an ES module package).
import { afterAll, beforeAll, expect, test } from '@jest/globals'
import { startTestServer } from 'cinepass/testing'

let cp
beforeAll(async () => {
  cp = await startTestServer({ fixtures: { apps: [{ name: 'My TMDB client' }], users: [{ username: 'alice', password: 'alice-password' }] } })
})
afterAll(() => cp.close())

test('validate_with_login with the fixtures\' user gives a session', async () => {
  const api = (path, body) =>
    fetch(`${cp.url}/3${path}?api_key=${cp.apiKey}`, body ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}).then((r) => r.json())
  const { request_token } = await api('/authentication/token/new')
  await api('/authentication/token/validate_with_login', { username: 'alice', password: 'alice-password', request_token })
  const { session_id } = await api('/authentication/session/new', { request_token })
  expect(session_id).toMatch(/^[0-9a-f]{40}$/)
})

test('a wrong password is refused with code 30', async () => {
  const { request_token } = await fetch(`${cp.url}/3/authentication/token/new?api_key=${cp.apiKey}`).then((r) => r.json())
  const response = await fetch(`${cp.url}/3/authentication/token/validate_with_login?api_key=${cp.apiKey}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'alice', password: 'wrong', request_token }),
  })
  expect(response.status).toBe(401)
  expect((await response.json()).status_code).toBe(30)
})
