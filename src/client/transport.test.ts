import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { AuthenticationApi } from './authentication-api.js'
import { TmdbError, TmdbInvalidResponseError, TmdbNetworkError, TmdbTimeoutError } from './errors.js'

interface Seen {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: string
}

interface Scripted {
  base: string
  seen: Seen[]
  server: Server
}

const servers: Server[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})

/** A node:http server of the test's own on 127.0.0.1: `answer` decides each response. */
async function scriptedServer(answer: (seen: Seen, index: number, response: ServerResponse) => void): Promise<Scripted> {
  const seen: Seen[] = []
  const server = createServer((request, response) => {
    let body = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => (body += chunk))
    request.on('end', () => {
      const entry = { method: request.method ?? '', url: request.url ?? '', headers: request.headers, body }
      seen.push(entry)
      answer(entry, seen.length - 1, response)
    })
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server }
}

function json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json;charset=utf-8', ...headers }).end(JSON.stringify(body))
}

const RATE_LIMITED = { success: false, status_code: 25, status_message: 'Your request count (41) is over the allowed limit of (40).' }
const TOKEN = { success: true, expires_at: '2026-01-01 13:00:00 UTC', request_token: 'a'.repeat(40) }

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection')
    },
    (error: unknown) => error,
  )
}

describe('AuthenticationApi retries', () => {
  it('retries a 429 with Retry-After: 1 once and succeeds', async () => {
    const scripted = await scriptedServer((_seen, index, response) =>
      index === 0 ? json(response, 429, RATE_LIMITED, { 'retry-after': '1' }) : json(response, 200, TOKEN),
    )
    const client = new AuthenticationApi({ baseUrl: `${scripted.base}/3`, apiKey: 'k', retry: true })
    expect(await client.getNewAuthenticationToken()).toEqual(TOKEN)
    expect(scripted.seen.map((seen) => seen.url)).toEqual(['/3/authentication/token/new?api_key=k', '/3/authentication/token/new?api_key=k'])
  })

  it('stops after `retries` retries and throws the last 429 with its retryAfter', async () => {
    const scripted = await scriptedServer((_seen, _index, response) => json(response, 429, RATE_LIMITED, { 'retry-after': '0' }))
    const client = new AuthenticationApi({ baseUrl: `${scripted.base}/3`, apiKey: 'k', retry: { retries: 2 } })
    const error = await rejection(client.getNewAuthenticationToken())
    expect(error).toBeInstanceOf(TmdbError)
    expect(error).toMatchObject({ httpStatus: 429, statusCode: 25, statusMessage: RATE_LIMITED.status_message, retryAfter: 0 })
    expect(scripted.seen).toHaveLength(3)
  })

  it('does not wait longer than maxDelayMs: a Retry-After beyond it is thrown at once', async () => {
    const scripted = await scriptedServer((_seen, _index, response) => json(response, 429, RATE_LIMITED, { 'retry-after': '120' }))
    const client = new AuthenticationApi({ baseUrl: `${scripted.base}/3`, apiKey: 'k', retry: { retries: 5, maxDelayMs: 5_000 } })
    expect(await rejection(client.getNewAuthenticationToken())).toMatchObject({ httpStatus: 429, retryAfter: 120 })
    expect(scripted.seen).toHaveLength(1)
  })

  it('does not retry when retry is off (the default)', async () => {
    const scripted = await scriptedServer((_seen, _index, response) => json(response, 429, RATE_LIMITED, { 'retry-after': '1' }))
    const client = new AuthenticationApi({ baseUrl: `${scripted.base}/3`, apiKey: 'k' })
    expect(await rejection(client.getNewAuthenticationToken())).toMatchObject({ httpStatus: 429, statusCode: 25, retryAfter: 1 })
    expect(scripted.seen).toHaveLength(1)
  })

  it('retries a 503 without Retry-After after a backoff, and never retries a 4xx other than 429', async () => {
    const offline = { success: false, status_code: 9, status_message: 'Service offline: This service is temporarily offline, try again later.' }
    const scripted = await scriptedServer((seen, index, response) => {
      if (seen.url.startsWith('/3/authentication/token/new')) return index === 0 ? json(response, 503, offline) : json(response, 200, TOKEN)
      json(response, 401, { success: false, status_code: 30, status_message: 'Invalid username and/or password: You did not provide a valid login.' })
    })
    const client = new AuthenticationApi({ baseUrl: `${scripted.base}/3`, apiKey: 'k', retry: true })
    expect(await client.getNewAuthenticationToken()).toEqual(TOKEN)
    expect(await rejection(client.getValidateAuthenticationTokenWithLogin('u', 'p', 't'))).toMatchObject({ httpStatus: 401, statusCode: 30 })
    expect(scripted.seen).toHaveLength(3)
  })
})

describe('AuthenticationApi failures that are not TMDB refusals', () => {
  it('gives a TmdbTimeoutError when the server never answers', async () => {
    const scripted = await scriptedServer(() => undefined)
    const client = new AuthenticationApi({ baseUrl: `${scripted.base}/3`, apiKey: 'k', timeoutMs: 200 })
    const error = await rejection(client.getNewAuthenticationToken())
    expect(error).toBeInstanceOf(TmdbTimeoutError)
    expect(error).toMatchObject({ timeoutMs: 200 })
  }, 10_000)

  it('gives a TmdbTimeoutError when the body never finishes', async () => {
    const scripted = await scriptedServer((_seen, _index, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.write('{"success":')
    })
    const client = new AuthenticationApi({ baseUrl: `${scripted.base}/3`, apiKey: 'k', timeoutMs: 200 })
    expect(await rejection(client.getNewAuthenticationToken())).toBeInstanceOf(TmdbTimeoutError)
  }, 10_000)

  it('gives a TmdbTimeoutError even through a custom fetch that ignores the abort signal', async () => {
    const neverSettles = (): Promise<Response> => new Promise(() => undefined)
    const client = new AuthenticationApi({ baseUrl: 'http://127.0.0.1:9/3', apiKey: 'k', timeoutMs: 200, fetch: neverSettles })
    expect(await rejection(client.validateKey())).toBeInstanceOf(TmdbTimeoutError)
  }, 10_000)

  it('gives a TmdbNetworkError when nothing listens', async () => {
    const scripted = await scriptedServer(() => undefined)
    const { base } = scripted
    scripted.server.close()
    const error = await rejection(new AuthenticationApi({ baseUrl: `${base}/3`, apiKey: 'k' }).validateKey())
    expect(error).toBeInstanceOf(TmdbNetworkError)
    expect(error).not.toBeInstanceOf(TmdbError)
  })

  it('refuses a 2xx body of the wrong shape with TmdbInvalidResponseError', async () => {
    const bodies = [{ success: true }, { success: true, expires_at: 5, request_token: 'x' }, '<html>ok</html>', [TOKEN]]
    const scripted = await scriptedServer((_seen, index, response) => {
      const body = bodies[index]
      if (typeof body === 'string') response.writeHead(200, { 'content-type': 'text/html' }).end(body)
      else json(response, 200, body)
    })
    const client = new AuthenticationApi({ baseUrl: `${scripted.base}/3`, apiKey: 'k' })
    for (const body of bodies) {
      const error = await rejection(client.getNewAuthenticationToken())
      expect(error).toBeInstanceOf(TmdbInvalidResponseError)
      expect(error).toMatchObject({ httpStatus: 200, body })
    }
  })

  it('turns an error status without a TMDB body into a TmdbError with null codes', async () => {
    const scripted = await scriptedServer((_seen, _index, response) => response.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad gateway</h1>'))
    const error = await rejection(new AuthenticationApi({ baseUrl: `${scripted.base}/3`, apiKey: 'k' }).validateKey())
    expect(error).toMatchObject({ httpStatus: 502, statusCode: null, statusMessage: null, body: '<h1>Bad gateway</h1>' })
  })
})

describe('AuthenticationApi requests on the wire', () => {
  it('sends the v3 POST and DELETE forms TMDB documents, with api_key in the query', async () => {
    const scripted = await scriptedServer((seen, _index, response) => {
      if (seen.url.includes('session/new') || seen.url.includes('convert/4')) return json(response, 200, { success: true, session_id: 'b'.repeat(40) })
      if (seen.method === 'DELETE') return json(response, 200, { success: true })
      json(response, 200, TOKEN)
    })
    const client = new AuthenticationApi({ baseUrl: `${scripted.base}/3/`, apiKey: 'key' })
    await client.getValidateAuthenticationTokenWithLogin('ann', 'pässword', 't1')
    await client.getNewAuthenticationSession('t1')
    await client.deleteAuthenticationSession('s1')
    await client.postAuthenticationSessionConvert4({ access_token: 'a.b.c' })
    expect(scripted.seen.map(({ method, url, headers, body }) => ({ method, url, type: headers['content-type'], body: JSON.parse(body) }))).toEqual([
      {
        method: 'POST',
        url: '/3/authentication/token/validate_with_login?api_key=key',
        type: 'application/json',
        body: { username: 'ann', password: 'pässword', request_token: 't1' },
      },
      { method: 'POST', url: '/3/authentication/session/new?api_key=key', type: 'application/json', body: { request_token: 't1' } },
      { method: 'DELETE', url: '/3/authentication/session?api_key=key', type: 'application/json', body: { session_id: 's1' } },
      { method: 'POST', url: '/3/authentication/session/convert/4?api_key=key', type: 'application/json', body: { access_token: 'a.b.c' } },
    ])
    expect(scripted.seen.every((seen) => seen.headers.authorization === undefined)).toBe(true)
  })

  it('sends the v4 requests of wire.md to the /4 root with the bearer', async () => {
    const v4Token = 'h.p.s'
    const scripted = await scriptedServer((seen, _index, response) => {
      if (seen.url === '/4/auth/request_token')
        return json(response, 200, { success: true, status_code: 1, status_message: 'Success.', request_token: v4Token })
      if (seen.method === 'POST') {
        return json(response, 200, { success: true, status_code: 1, status_message: 'Success.', access_token: 'u.a.t', account_id: 'c'.repeat(24) })
      }
      json(response, 200, { success: true, status_code: 13, status_message: 'The item/record was deleted successfully.' })
    })
    const client = new AuthenticationApi({ baseUrl: `${scripted.base}/3`, accessToken: 'read.access.token' })
    expect(await client.createRequestToken('https://app.example/cb')).toMatchObject({ request_token: v4Token })
    await client.createRequestToken()
    expect(await client.createAccessToken(v4Token)).toMatchObject({ access_token: 'u.a.t', account_id: 'c'.repeat(24) })
    expect(await client.deleteAccessToken('u.a.t')).toMatchObject({ status_code: 13 })
    expect(scripted.seen.map(({ method, url, headers, body }) => ({ method, url, auth: headers.authorization, body: JSON.parse(body) }))).toEqual([
      { method: 'POST', url: '/4/auth/request_token', auth: 'Bearer read.access.token', body: { redirect_to: 'https://app.example/cb' } },
      { method: 'POST', url: '/4/auth/request_token', auth: 'Bearer read.access.token', body: {} },
      { method: 'POST', url: '/4/auth/access_token', auth: 'Bearer read.access.token', body: { request_token: v4Token } },
      { method: 'DELETE', url: '/4/auth/access_token', auth: 'Bearer read.access.token', body: { access_token: 'u.a.t' } },
    ])
  })

  it('refuses v4 calls when the v4 root cannot be derived from baseUrl', async () => {
    const client = new AuthenticationApi({ baseUrl: 'http://127.0.0.1:9/tmdb', accessToken: 't' })
    await expect(client.createRequestToken()).rejects.toThrow(TypeError)
  })
})
