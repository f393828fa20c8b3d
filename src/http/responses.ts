import type { FastifyReply } from 'fastify'
import type { AuthError } from '../core/errors.js'
import { setRetryAfter } from '../http-shared/retry-after.js'
import { TMDB_STATUS, type TmdbStatusName } from '../wire/status.js'
import { JSON_CONTENT_TYPE, type StatusResponse } from '../wire/types.js'

/** Sends `body` as TMDB does: JSON with TMDB's exact Content-Type, never cached. */
export function sendJson(reply: FastifyReply, httpStatus: number, body: unknown): FastifyReply {
  return reply.code(httpStatus).header('content-type', JSON_CONTENT_TYPE).header('cache-control', 'no-store').send(JSON.stringify(body))
}

/** TMDB's error (or status) body for `code`. */
export function statusBody(code: TmdbStatusName, statusMessage?: string): StatusResponse & { failure?: true } {
  const status = TMDB_STATUS[code]
  const success = status.http === 200
  const message = statusMessage ?? status.message
  // TMDB adds `failure: true` to the refusal of an unapproved request token; clients look for it.
  if (code === 'SESSION_DENIED') return { success, failure: true, status_code: status.status_code, status_message: message }
  return { success, status_code: status.status_code, status_message: message }
}

/** Sends the TMDB error body and status for an `AuthError`, with `Retry-After` when it has one. */
export function sendAuthError(reply: FastifyReply, error: AuthError): FastifyReply {
  return sendJson(setRetryAfter(reply, error.retryAfterSeconds), TMDB_STATUS[error.code].http, statusBody(error.code, error.statusMessage))
}

/** A complete raw HTTP response for a connection the HTTP parser gave up on. */
export function rawStatusResponse(code: TmdbStatusName): string {
  const body = JSON.stringify(statusBody(code))
  const http = TMDB_STATUS[code].http
  return (
    `HTTP/1.1 ${http} ${http === 400 ? 'Bad Request' : 'Error'}\r\n` +
    `Content-Type: ${JSON_CONTENT_TYPE}\r\nCache-Control: no-store\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `Connection: close\r\n\r\n${body}`
  )
}
