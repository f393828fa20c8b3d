import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { Writable } from 'node:stream'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, startTestServer, type TestServer } from './test-support/fixtures.js'

let server: TestServer
const logLines: string[] = []
// Every secret the flow below hands out or sends; none may be found at rest or in a log line.
const secrets = new Set<string>()

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(chunk.toString())
      done()
    },
  })
  const logger = pino({ level: 'trace' }, sink)
  server = await startTestServer({ logger })
  secrets.add(server.application.apiKey).add(server.application.readAccessToken).add(server.user.password)
  const base = server.base
  const key = server.application.apiKey
  const { username, password } = server.user

  // Credentials in query strings, as many clients send them.
  const token = (await call(`${base}/3/authentication/token/new?api_key=${key}`)).body.request_token as string
  secrets.add(token)
  const validated = await call(
    `${base}/3/authentication/token/validate_with_login?api_key=${key}&username=${username}&password=${encodeURIComponent(password)}&request_token=${token}`,
  )
  expect(validated.status).toBe(200)
  const session = (await call(`${base}/3/authentication/session/new?api_key=${key}&request_token=${token}`)).body.session_id as string
  secrets.add(session)
  expect((await call(`${base}/3/account?api_key=${key}&session_id=${session}`)).status).toBe(200)
  // In JSON bodies and headers, as the others send them.
  const second = (await call(`${base}/3/authentication/token/new`, { headers: { authorization: `Bearer ${server.application.readAccessToken}` } })).body
    .request_token as string
  secrets.add(second)
  await call(`${base}/3/authentication/token/validate_with_login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ api_key: key, username, password, request_token: second }),
  })
  const other = (
    await call(`${base}/3/authentication/session/new`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ api_key: key, request_token: second }),
    })
  ).body.session_id as string
  secrets.add(other)
  const guest = (await call(`${base}/3/authentication/guest_session/new?api_key=${key}`)).body.guest_session_id as string
  secrets.add(guest)
  // Failures log too: a wrong password and an unknown session must not appear either.
  secrets.add('a-wrong-password-42')
  await call(`${base}/3/authentication/token/validate_with_login?api_key=${key}&username=${username}&password=a-wrong-password-42&request_token=${second}`)
  expect((await call(`${base}/3/authentication/session?api_key=${key}&session_id=${session}`, { method: 'DELETE' })).status).toBe(200)
  // The login throttle's 10 failures per account and address (one above, nine here); the next attempt is blocked.
  for (let i = 0; i < 9; i++)
    await call(`${base}/3/authentication/token/validate_with_login?api_key=${key}&username=${username}&password=a-wrong-password-42&request_token=${second}`)
  expect(
    (await call(`${base}/3/authentication/token/validate_with_login?api_key=${key}&username=${username}&password=a-wrong-password-42&request_token=${second}`))
      .status,
  ).toBe(429)
})

afterAll(async () => {
  await (server as TestServer | undefined)?.stop() // undefined when beforeAll failed before assigning it
})

describe('secrets', () => {
  it('never appear in a log line, while the URLs are logged with [REDACTED] values', () => {
    const log = logLines.join('')
    expect(logLines.length).toBeGreaterThan(8)
    for (const secret of secrets) expect(log.includes(secret), `a secret appears in the logs`).toBe(false)
    expect(log).toContain('password=[REDACTED]')
    expect(log).toContain('session_id=[REDACTED]')
    expect(log).not.toMatch(/authorization/i)
  })

  it('security events are logged at info with the request id, client IP and account id, and no secret', () => {
    const events = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.msg === 'security event')
    const of = (name: string) => events.filter((entry) => entry.securityEvent === name)
    for (const entry of events) {
      expect(entry.level).toBe(30)
      expect(entry.reqId).toEqual(expect.any(String))
      expect(entry.ip).toBe('127.0.0.1')
      for (const secret of secrets) expect(JSON.stringify(entry).includes(secret)).toBe(false)
      expect(JSON.stringify(entry)).not.toContain(server.user.username)
    }
    const account = { accountId: server.user.id, appId: server.application.id }
    expect(of('login_succeeded')).toEqual([expect.objectContaining(account), expect.objectContaining(account)])
    expect(of('request_token_approved')).toHaveLength(2)
    expect(of('session_created')).toEqual([expect.objectContaining(account), expect.objectContaining(account)])
    expect(of('session_deleted')).toEqual([expect.objectContaining({ appId: server.application.id })])
    expect(of('login_failed')).toHaveLength(10)
    expect(of('login_failed')[0]).toMatchObject({ reason: 'INVALID_LOGIN', appId: server.application.id })
    expect(of('limiter_blocked')).toEqual([expect.objectContaining({ reason: 'RATE_LIMITED' })])
  })

  it('never appear in the SQLite files at rest (.db, -wal)', () => {
    const dir = dirname(server.dbPath)
    const files = readdirSync(dir).filter((name) => name.startsWith('cinepass.db'))
    expect(files).toContain('cinepass.db')
    let bytes = 0
    for (const name of files) {
      const content = readFileSync(join(dir, name))
      bytes += content.length
      for (const secret of secrets) expect(content.includes(Buffer.from(secret)), `a secret is stored in ${name}`).toBe(false)
    }
    expect(bytes).toBeGreaterThan(0)
  })

  it('are stored as their SHA-256, so the hash of an issued token is found at rest', async () => {
    const { hashSecret } = await import('./core/secrets.js')
    const dir = dirname(server.dbPath)
    const stored = readdirSync(dir)
      .filter((name) => name.startsWith('cinepass.db'))
      .map((name) => readFileSync(join(dir, name)))
    const hash = Buffer.from(hashSecret(server.application.apiKey))
    expect(stored.some((content) => content.includes(hash))).toBe(true)
  })
})
