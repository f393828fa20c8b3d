import type { TmdbStatusName } from '../wire/status.js'

/**
 * The one error type of cinepass: a rule was broken, and `code` names the TMDB status that says
 * which. Only the HTTP layer turns it into a response; the message never carries caller input.
 */
export class AuthError extends Error {
  readonly code: TmdbStatusName
  /** Seconds the caller should wait before retrying (rate limits, overload). */
  readonly retryAfterSeconds: number | undefined
  /** Overrides the table's message where TMDB fills in figures (rate limits). */
  readonly statusMessage: string | undefined

  constructor(code: TmdbStatusName, options: { retryAfterSeconds?: number; statusMessage?: string } = {}) {
    super(code)
    this.name = 'AuthError'
    this.code = code
    this.retryAfterSeconds = options.retryAfterSeconds
    this.statusMessage = options.statusMessage
  }
}

/** Thrown by a store when its database cannot be reached; answered as TMDB's "service offline". */
export class StoreUnavailableError extends AuthError {
  constructor(cause?: unknown) {
    super('SERVICE_OFFLINE', { retryAfterSeconds: 1 })
    this.name = 'StoreUnavailableError'
    this.cause = cause
  }
}

/**
 * A store write named an application or account that was deleted meanwhile: a request that raced
 * `apps delete` or `users delete`, or came through an application a server still had cached (for up
 * to a second). Answered as TMDB's "service offline" with `Retry-After: 1`, since a retry gets the
 * definite answer (the key or the login refused). See `withDeletedMeanwhile` in store.ts.
 */
export class DeletedMeanwhileError extends AuthError {
  constructor(cause?: unknown) {
    super('SERVICE_OFFLINE', { retryAfterSeconds: 1 })
    this.name = 'DeletedMeanwhileError'
    this.cause = cause
  }
}

/** A CLI or configuration mistake: one line for a human, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}
