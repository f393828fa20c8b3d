/**
 * What `AuthenticationApi` throws. Every error is a `TmdbClientError`, so one `instanceof` catches
 * them all; the subclasses say whether the server refused (`TmdbError`), answered something that is
 * not TMDB's format (`TmdbInvalidResponseError`), could not be reached (`TmdbNetworkError`) or took
 * too long (`TmdbTimeoutError`).
 */
export class TmdbClientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'TmdbClientError'
  }
}

/**
 * The server answered with an HTTP error status. `statusCode` and `statusMessage` are TMDB's
 * (`{"success":false,"status_code":30,…}`); they are `null` when the body was not TMDB's error
 * format (a proxy's HTML page, say).
 */
export class TmdbError extends TmdbClientError {
  /** The HTTP status, e.g. 401. */
  readonly httpStatus: number
  /** TMDB's `status_code`, e.g. 30 for a wrong password. */
  readonly statusCode: number | null
  /** TMDB's `status_message`, exactly as sent. */
  readonly statusMessage: string | null
  /** Seconds to wait before retrying, from `Retry-After` (429 and 503 answers that carry it). */
  readonly retryAfter: number | undefined
  /** The parsed body, when it was JSON. */
  readonly body: unknown

  constructor(init: { httpStatus: number; statusCode: number | null; statusMessage: string | null; retryAfter?: number | undefined; body?: unknown }) {
    super(
      `TMDB answered HTTP ${init.httpStatus}${init.statusCode === null ? '' : ` (status_code ${init.statusCode})`}: ${init.statusMessage ?? 'no TMDB error body'}`,
    )
    this.name = 'TmdbError'
    this.httpStatus = init.httpStatus
    this.statusCode = init.statusCode
    this.statusMessage = init.statusMessage
    this.retryAfter = init.retryAfter
    this.body = init.body
  }
}

/** A success status whose body is not the model the endpoint documents (or not JSON at all). */
export class TmdbInvalidResponseError extends TmdbClientError {
  readonly httpStatus: number
  /** The parsed body, or the raw text when it was not JSON. */
  readonly body: unknown

  constructor(httpStatus: number, body: unknown, expected: string) {
    super(`TMDB answered HTTP ${httpStatus} with a body that is not a ${expected}`)
    this.name = 'TmdbInvalidResponseError'
    this.httpStatus = httpStatus
    this.body = body
  }
}

/** The request never got an HTTP answer: DNS, refused connection, reset, CORS refusal in a browser. */
export class TmdbNetworkError extends TmdbClientError {
  constructor(cause: unknown) {
    super(`Could not reach the TMDB API: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
    this.name = 'TmdbNetworkError'
  }
}

/** No complete answer within `timeoutMs`. */
export class TmdbTimeoutError extends TmdbClientError {
  readonly timeoutMs: number

  constructor(timeoutMs: number) {
    super(`The TMDB API did not answer within ${timeoutMs} ms`)
    this.name = 'TmdbTimeoutError'
    this.timeoutMs = timeoutMs
  }
}
