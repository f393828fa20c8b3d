import { Writable } from 'node:stream'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../config/config.js'
import { call, startTestServer, type TestServer } from '../test-support/fixtures.js'

const servers: TestServer[] = []

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()))
})

/** A server whose log lines are collected, with CINEPASS_ACCESS_LOG as given. */
async function serverLogging(accessLog: string | undefined): Promise<{ server: TestServer; lines: () => Record<string, unknown>[] }> {
  const raw: string[] = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      raw.push(chunk.toString())
      done()
    },
  })
  const server = await startTestServer({
    logger: pino({ level: 'info' }, sink),
    env: accessLog === undefined ? {} : { CINEPASS_ACCESS_LOG: accessLog },
    transport: 'inject',
  })
  servers.push(server)
  return { server, lines: () => raw.map((line) => JSON.parse(line) as Record<string, unknown>) }
}

describe('the access log', () => {
  it('logs every request by default, with its route, status and a redacted URL', async () => {
    const { server, lines } = await serverLogging(undefined)
    expect((await call(`${server.base}/3/authentication/token/new?api_key=${server.application.apiKey}`)).status).toBe(200)
    expect((await call(`${server.base}/3/account?api_key=${server.application.apiKey}&session_id=${'0'.repeat(40)}`)).status).toBe(401)
    const requests = lines().filter((line) => line.msg === 'request')
    expect(requests).toEqual([
      expect.objectContaining({
        method: 'GET',
        route: '/3/authentication/token/new',
        status: 200,
        url: '/3/authentication/token/new?api_key=[REDACTED]',
        reqId: expect.any(String),
      }),
      expect.objectContaining({ method: 'GET', route: '/3/account', status: 401, url: `/3/account?api_key=[REDACTED]&session_id=[REDACTED]` }),
    ])
  })

  it('is silent with CINEPASS_ACCESS_LOG=off, while security events are still logged', async () => {
    const { server, lines } = await serverLogging('off')
    const key = server.application.apiKey
    const token = (await call(`${server.base}/3/authentication/token/new?api_key=${key}`)).body.request_token as string
    const login = `username=${server.user.username}&password=${encodeURIComponent(server.user.password)}&request_token=${token}`
    expect((await call(`${server.base}/3/authentication/token/validate_with_login?api_key=${key}&${login}`)).status).toBe(200)
    expect((await call(`${server.base}/3/authentication/session/new?api_key=${key}&request_token=${token}`)).status).toBe(200)
    expect(lines().filter((line) => line.msg === 'request')).toEqual([])
    expect(
      lines()
        .filter((line) => line.msg === 'security event')
        .map((line) => line.securityEvent),
    ).toEqual(['login_succeeded', 'request_token_approved', 'session_created'])
  })

  it('refuses a setting other than on or off', () => {
    expect(() => loadConfig({ CINEPASS_ACCESS_LOG: 'sometimes' })).toThrow(/CINEPASS_ACCESS_LOG must be "on" or "off"/)
  })
})
