import type { TestServer, TestUser } from './fixtures.js'

/** A cookie-keeping HTTP client for the website that never follows redirects (tests look at them). */
export class WebClient {
  readonly cookies = new Map<string, string>()
  /** The raw Set-Cookie headers of the last response. */
  lastSetCookies: string[] = []

  constructor(readonly base: string) {}

  async get(path: string): Promise<{ status: number; headers: Headers; text: string }> {
    return this.#send(path, { method: 'GET' })
  }

  async post(path: string, form: Record<string, string>): Promise<{ status: number; headers: Headers; text: string }> {
    return this.#send(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() })
  }

  async #send(path: string, init: RequestInit): Promise<{ status: number; headers: Headers; text: string }> {
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
    const headers = new Headers(init.headers)
    if (cookie) headers.set('cookie', cookie)
    const response = await fetch(new URL(path, this.base), { ...init, headers, redirect: 'manual' })
    this.lastSetCookies = response.headers.getSetCookie()
    for (const line of this.lastSetCookies) {
      const pair = line.split(';')[0] ?? ''
      const equals = pair.indexOf('=')
      const name = pair.slice(0, equals).trim()
      const value = pair.slice(equals + 1).trim()
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
    return { status: response.status, headers: response.headers, text: await response.text() }
  }

  /** Signs in through the login form; returns the response of the form post. */
  async signIn(user: Pick<TestUser, 'username' | 'password'>, next = '/'): Promise<{ status: number; headers: Headers; text: string }> {
    const form = await this.get(`/login?next=${encodeURIComponent(next)}`)
    return this.post('/login', { _csrf: csrfOf(form.text), username: user.username, password: user.password, next })
  }
}

/** The CSRF token of the first form on a page. */
export function csrfOf(page: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(page)
  if (!match?.[1]) throw new Error('no CSRF token on the page')
  return match[1]
}

/** A new v3 request token of the test server's application. */
export async function newRequestToken(server: TestServer, apiKey = server.application.apiKey): Promise<string> {
  const response = await fetch(`${server.base}/3/authentication/token/new?api_key=${apiKey}`)
  return ((await response.json()) as { request_token: string }).request_token
}

/** `session/new` for a request token: status and body. */
export async function sessionFor(server: TestServer, requestToken: string, apiKey = server.application.apiKey): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.base}/3/authentication/session/new?api_key=${apiKey}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ request_token: requestToken }),
  })
  return { status: response.status, body: await response.json() }
}
