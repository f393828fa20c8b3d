import { call } from '../../src/test-support/fixtures.js'

/** One HTTP answer: status and parsed JSON body, or the network error that replaced it. */
export interface Answer {
  status: number
  body: any
  error?: string
}

/** A request that never throws: a refused or reset connection comes back as `status: 0`. */
export async function request(url: string, init: RequestInit = {}): Promise<Answer> {
  try {
    const { status, body, text } = await call(url, init)
    return { status, body: body ?? text }
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause
    return { status: 0, body: undefined, error: cause?.code ?? cause?.message ?? (error as Error).message }
  }
}

const json = (body: object): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

/** The v3 endpoints the durability tests drive, for one application. */
export class V3 {
  constructor(
    readonly base: string,
    readonly apiKey: string,
  ) {}

  tokenNew(): Promise<Answer> {
    return request(`${this.base}/3/authentication/token/new?api_key=${this.apiKey}`)
  }

  validate(requestToken: string, username: string, password: string, init: RequestInit = {}): Promise<Answer> {
    return request(`${this.base}/3/authentication/token/validate_with_login?api_key=${this.apiKey}`, {
      ...json({ username, password, request_token: requestToken }),
      ...init,
    })
  }

  sessionNew(requestToken: string): Promise<Answer> {
    return request(`${this.base}/3/authentication/session/new?api_key=${this.apiKey}`, json({ request_token: requestToken }))
  }

  account(sessionId: string): Promise<Answer> {
    return request(`${this.base}/3/account?api_key=${this.apiKey}&session_id=${sessionId}`)
  }

  deleteSession(sessionId: string): Promise<Answer> {
    return request(`${this.base}/3/authentication/session?api_key=${this.apiKey}`, { ...json({ session_id: sessionId }), method: 'DELETE' })
  }

  guestSession(): Promise<Answer> {
    return request(`${this.base}/3/authentication/guest_session/new?api_key=${this.apiKey}`)
  }

  /** A request token approved by `user`; throws when a step is refused. */
  async approvedToken(user: { username: string; password: string }): Promise<string> {
    const token = await this.tokenNew()
    if (token.status !== 200) throw new Error(`token/new: ${token.status} ${JSON.stringify(token.body ?? token.error)}`)
    const validated = await this.validate(token.body.request_token, user.username, user.password)
    if (validated.status !== 200) throw new Error(`validate_with_login: ${validated.status} ${JSON.stringify(validated.body ?? validated.error)}`)
    return token.body.request_token as string
  }
}
