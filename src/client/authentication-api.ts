import type {
  AccessTokenBody,
  AccountDetails,
  GuestSessionResponse,
  SessionResponse,
  StatusResponse,
  SuccessResponse,
  TokenResponse,
  TokenResponseWithExpiration,
  V4AccessTokenResponse,
  V4RequestTokenResponse,
} from '../wire/types.js'
import { TmdbError, TmdbInvalidResponseError, TmdbNetworkError, TmdbTimeoutError } from './errors.js'
import { ACCOUNT, GUEST_SESSION, SESSION, STATUS, SUCCESS, TOKEN, V4_ACCESS_TOKEN, V4_REQUEST_TOKEN, errorStatus, type Shape } from './shapes.js'

/** TMDB's own API; cinepass serves the same paths from its root. */
export const DEFAULT_BASE_URL = 'https://api.themoviedb.org/3'

/** The `fetch` the client calls: the global one, or any with the same signature. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>

/** Retrying 429 and 5xx answers. */
export interface RetryOptions {
  /** Retries after the first attempt (default 2). */
  retries?: number
  /**
   * The longest single wait in milliseconds (default 30 000). An answer whose `Retry-After` asks for
   * longer is not retried: it is thrown at once, with `retryAfter` set.
   */
  maxDelayMs?: number
}

export interface AuthenticationApiOptions {
  /** The v3 root, default `https://api.themoviedb.org/3`; for cinepass `https://auth.example.com/3`. */
  baseUrl?: string
  /** The application's v3 API key, sent as the `api_key` query parameter. */
  apiKey?: string
  /** The application's read access token (or a user's v4 access token), sent as `Authorization: Bearer`. */
  accessToken?: string
  /** Where users approve tokens; default: TMDB's website for TMDB's API, else `baseUrl` without `/3`. */
  websiteUrl?: string
  /** Defaults to the global `fetch` (Node 20, browsers). */
  fetch?: FetchLike
  /** Per attempt, including reading the body (default 30 000 ms; 0 turns it off). */
  timeoutMs?: number
  /** Off by default; `true` for the defaults. */
  retry?: boolean | RetryOptions
}

interface RequestSpec<T> {
  method: 'GET' | 'POST' | 'DELETE'
  version: 3 | 4
  path: string
  query?: Record<string, string>
  body?: Record<string, string>
  shape: Shape<T>
}

const DEFAULT_TIMEOUT_MS = 30_000
const DEFAULT_RETRIES = 2
const DEFAULT_MAX_DELAY_MS = 30_000
// Without a Retry-After, 5xx answers are retried after 0.5 s, 1 s, 2 s, …
const BACKOFF_BASE_MS = 500

/**
 * TMDB's authentication API, typed: the seed's `AuthenticationApi` (method names in camelCase,
 * models in TMDB's snake_case), the account lookup, the approval URLs and v4 tokens. Works against
 * TMDB and against cinepass, in Node 20 and in browsers, with no dependencies.
 *
 * Every method resolves to the documented model or rejects with a `TmdbClientError` subclass:
 * `TmdbError` (an error answer), `TmdbInvalidResponseError`, `TmdbNetworkError`, `TmdbTimeoutError`.
 */
export class AuthenticationApi {
  readonly baseUrl: string
  readonly #apiKey: string | undefined
  readonly #accessToken: string | undefined
  readonly #websiteUrl: string
  readonly #fetch: FetchLike
  readonly #timeoutMs: number
  readonly #retries: number
  readonly #maxDelayMs: number

  constructor(options: AuthenticationApiOptions = {}) {
    this.baseUrl = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, '')
    if (!/^https?:\/\/[^/]+/i.test(this.baseUrl)) throw new TypeError('baseUrl must be an absolute http(s) URL')
    this.#apiKey = options.apiKey
    this.#accessToken = options.accessToken
    this.#websiteUrl = (options.websiteUrl ?? defaultWebsite(this.baseUrl)).replace(/\/+$/, '')
    // Bound to globalThis: browsers throw "Illegal invocation" for a detached fetch.
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    const retry = options.retry === true ? {} : options.retry === false || options.retry === undefined ? null : options.retry
    this.#retries = retry ? Math.max(0, retry.retries ?? DEFAULT_RETRIES) : 0
    this.#maxDelayMs = retry?.maxDelayMs ?? DEFAULT_MAX_DELAY_MS
  }

  // --- the seed's AuthenticationApi -------------------------------------------------------------

  /** `DELETE /authentication/session`: logs the session out. 404/37 when it is unknown or gone. */
  deleteAuthenticationSession(sessionId: string): Promise<SuccessResponse> {
    return this.#request({ method: 'DELETE', version: 3, path: '/authentication/session', body: { session_id: sessionId }, shape: SUCCESS })
  }

  /** `GET /authentication/guest_session/new`: a guest session that lives 24 hours. */
  getNewAuthenticationGuestSession(): Promise<GuestSessionResponse> {
    return this.#request({ method: 'GET', version: 3, path: '/authentication/guest_session/new', shape: GUEST_SESSION })
  }

  /** `session/new`: turns an approved request token into a session (once). 401/17 until approved. */
  getNewAuthenticationSession(requestToken: string): Promise<SessionResponse> {
    return this.#request({ method: 'POST', version: 3, path: '/authentication/session/new', body: { request_token: requestToken }, shape: SESSION })
  }

  /** `GET /authentication/token/new`: a request token for the user to approve, valid 60 minutes. */
  getNewAuthenticationToken(): Promise<TokenResponseWithExpiration> {
    return this.#request({ method: 'GET', version: 3, path: '/authentication/token/new', shape: TOKEN })
  }

  /** `validate_with_login`: approves the request token with the user's password (TMDB discourages it). */
  getValidateAuthenticationTokenWithLogin(username: string, password: string, requestToken: string): Promise<TokenResponse> {
    return this.#request({
      method: 'POST',
      version: 3,
      path: '/authentication/token/validate_with_login',
      body: { username, password, request_token: requestToken },
      shape: TOKEN,
    })
  }

  /** `POST /authentication/session/convert/4`: a v3 session for the user of a v4 access token. */
  postAuthenticationSessionConvert4(body: AccessTokenBody): Promise<SessionResponse> {
    return this.#request({ method: 'POST', version: 3, path: '/authentication/session/convert/4', body: { access_token: body.access_token }, shape: SESSION })
  }

  // --- around the seed --------------------------------------------------------------------------

  /** `GET /authentication`: succeeds when the configured credentials are valid. */
  validateKey(): Promise<StatusResponse> {
    return this.#request({ method: 'GET', version: 3, path: '/authentication', shape: STATUS })
  }

  /** `GET /account` (or `/account/{accountId}`): the session's user. 401/3 for a bad session. */
  getAccountDetails(sessionId: string, accountId?: number | string): Promise<AccountDetails> {
    const path = accountId === undefined ? '/account' : `/account/${encodeURIComponent(String(accountId))}`
    return this.#request({ method: 'GET', version: 3, path, query: { session_id: sessionId }, shape: ACCOUNT })
  }

  /** Where to send the user to approve a v3 request token; with `redirectTo`, they come back there. */
  authenticateUrl(requestToken: string, redirectTo?: string): string {
    const url = `${this.#websiteUrl}/authenticate/${encodeURIComponent(requestToken)}`
    return redirectTo === undefined ? url : `${url}?${new URLSearchParams({ redirect_to: redirectTo }).toString()}`
  }

  // --- v4 -----------------------------------------------------------------------------------------

  /** `POST /4/auth/request_token` (needs the read access token as `accessToken`); lives 15 minutes. */
  createRequestToken(redirectTo?: string): Promise<V4RequestTokenResponse> {
    const body: Record<string, string> = redirectTo === undefined ? {} : { redirect_to: redirectTo }
    return this.#request({ method: 'POST', version: 4, path: '/auth/request_token', body, shape: V4_REQUEST_TOKEN })
  }

  /** `POST /4/auth/access_token`: the user's access token for an approved v4 request token. 422/41 before approval. */
  createAccessToken(requestToken: string): Promise<V4AccessTokenResponse> {
    return this.#request({ method: 'POST', version: 4, path: '/auth/access_token', body: { request_token: requestToken }, shape: V4_ACCESS_TOKEN })
  }

  /** `DELETE /4/auth/access_token`: logs the user's access token out everywhere (status_code 13). */
  deleteAccessToken(accessToken: string): Promise<StatusResponse> {
    return this.#request({ method: 'DELETE', version: 4, path: '/auth/access_token', body: { access_token: accessToken }, shape: STATUS })
  }

  /** Where to send the user to approve a v4 request token. */
  approveUrl(requestToken: string): string {
    return `${this.#websiteUrl}/auth/access?${new URLSearchParams({ request_token: requestToken }).toString()}`
  }

  // --- transport ------------------------------------------------------------------------------------

  async #request<T>(spec: RequestSpec<T>): Promise<T> {
    const url = this.#url(spec)
    const headers: Record<string, string> = { accept: 'application/json' }
    if (this.#accessToken !== undefined) headers.authorization = `Bearer ${this.#accessToken}`
    if (spec.body !== undefined) headers['content-type'] = 'application/json'
    const init: RequestInit = { method: spec.method, headers, ...(spec.body === undefined ? {} : { body: JSON.stringify(spec.body) }) }
    for (let attempt = 0; ; attempt += 1) {
      const { status, headers: responseHeaders, body } = await this.#attempt(url, init)
      if (status >= 200 && status < 300) {
        if (spec.shape.is(body)) return body
        const refusal = errorStatus(body)
        // A 2xx carrying TMDB's error body is a refusal, not a malformed success.
        if (refusal && (body as { success?: unknown }).success === false) throw new TmdbError({ httpStatus: status, ...refusal, body })
        throw new TmdbInvalidResponseError(status, body, spec.shape.name)
      }
      const error = refusalError(status, responseHeaders, body)
      const delay = this.#retryDelay(status, error.retryAfter, attempt)
      if (delay === null) throw error
      await sleep(delay)
    }
  }

  #url(spec: RequestSpec<unknown>): string {
    let root = this.baseUrl
    if (spec.version === 4) {
      if (!/\/3$/.test(root)) throw new TypeError('v4 calls need a baseUrl ending in /3 (the v4 root is derived from it)')
      root = `${root.slice(0, -1)}4`
    }
    const query = new URLSearchParams(spec.query)
    if (this.#apiKey !== undefined) query.set('api_key', this.#apiKey)
    const search = query.toString()
    return `${root}${spec.path}${search === '' ? '' : `?${search}`}`
  }

  /** One HTTP exchange, body included, under the timeout. */
  async #attempt(url: string, init: RequestInit): Promise<{ status: number; headers: Headers; body: unknown }> {
    const controller = new AbortController()
    const exchange = (async () => {
      const response = await this.#fetch(url, { ...init, signal: controller.signal })
      const text = await response.text()
      return { status: response.status, headers: response.headers, body: parseJson(text) }
    })()
    let timer: ReturnType<typeof setTimeout> | undefined
    // Raced as well as aborted: a custom fetch that ignores the signal still times out.
    const deadline = new Promise<never>((_resolve, reject) => {
      if (this.#timeoutMs <= 0) return
      timer = setTimeout(() => {
        controller.abort()
        reject(new TmdbTimeoutError(this.#timeoutMs))
      }, this.#timeoutMs)
    })
    exchange.catch(() => undefined) // its failure after the deadline is not news
    try {
      return await Promise.race([exchange, deadline])
    } catch (error) {
      // Only the deadline aborts the controller.
      if (controller.signal.aborted) throw new TmdbTimeoutError(this.#timeoutMs)
      throw new TmdbNetworkError(error)
    } finally {
      clearTimeout(timer)
    }
  }

  /** Milliseconds to wait before the next attempt, or null to give up. */
  #retryDelay(status: number, retryAfter: number | undefined, attempt: number): number | null {
    if (attempt >= this.#retries || (status !== 429 && status < 500)) return null
    const delay = retryAfter !== undefined ? retryAfter * 1000 : BACKOFF_BASE_MS * 2 ** attempt
    return delay > this.#maxDelayMs ? null : delay
  }
}

/** The `TmdbError` for an error status, with TMDB's codes when the body is TMDB's error body. */
function refusalError(httpStatus: number, headers: Headers, body: unknown): TmdbError {
  const refusal = errorStatus(body)
  return new TmdbError({
    httpStatus,
    statusCode: refusal?.statusCode ?? null,
    statusMessage: refusal?.statusMessage ?? null,
    retryAfter: parseRetryAfter(headers.get('retry-after')),
    body,
  })
}

function defaultWebsite(baseUrl: string): string {
  const url = new URL(baseUrl)
  // TMDB's API and website are different hosts; cinepass serves both from one root.
  if (url.hostname === 'api.themoviedb.org') return 'https://www.themoviedb.org'
  return baseUrl.replace(/\/[34]$/, '')
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

/** `Retry-After` as whole seconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null): number | undefined {
  if (header === null) return undefined
  const trimmed = header.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed)
  const date = Date.parse(trimmed)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, Math.ceil((date - Date.now()) / 1000))
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
