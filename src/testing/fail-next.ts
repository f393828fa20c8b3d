import type { FastifyInstance } from 'fastify'
import { sendJson } from '../http/responses.js'
import { TMDB_STATUS } from '../wire/status.js'

/** Requests to answer with a TMDB error instead of serving them (see `TestServer.failNext`). */
export interface Failure {
  /** The path to fail, without the query string (`/3/authentication/token/new`), or a pattern tested against it. */
  path: string | RegExp
  /** The HTTP status to answer (400 to 599). */
  status: number
  /** The TMDB `status_code` of the body (e.g. 25, 9, 7). */
  code: number
  /** How many matching requests fail (default 1). */
  times?: number
  /** Only requests with this method (default any). */
  method?: string
  /** `Retry-After` in seconds; a 429 always has one (default 1). */
  retryAfter?: number
  /** The `status_message`; default TMDB's text for `code`. Required for a code cinepass does not use. */
  message?: string
}

interface Pending {
  path: string | RegExp
  method: string | undefined
  status: number
  body: { success: false; status_code: number; status_message: string }
  retryAfter: number | undefined
  left: number
}

const MESSAGES = new Map<number, string>(Object.values(TMDB_STATUS).map((status) => [status.status_code, status.message]))

/** A queue of planned failures, answered by an `onRequest` hook before credentials are even read. */
export class PlannedFailures {
  readonly #pending: Pending[] = []

  /** Queues `failure`; throws a `TypeError` naming a bad field. Earlier failures are matched first. */
  add(failure: Failure): void {
    const { path, status, code, times = 1, method, retryAfter, message } = failure
    if (typeof path !== 'string' && !(path instanceof RegExp)) throw new TypeError('failNext: path must be a string or a RegExp')
    if (!Number.isInteger(status) || status < 400 || status > 599) throw new TypeError('failNext: status must be an HTTP error status (400 to 599)')
    if (!Number.isInteger(code) || code < 1) throw new TypeError('failNext: code must be a TMDB status code (a positive integer)')
    if (!Number.isInteger(times) || times < 1) throw new TypeError('failNext: times must be a whole number, 1 or more')
    if (retryAfter !== undefined && (!Number.isInteger(retryAfter) || retryAfter < 0)) throw new TypeError('failNext: retryAfter must be whole seconds')
    const statusMessage = message ?? MESSAGES.get(code)
    if (statusMessage === undefined) throw new TypeError(`failNext: cinepass has no text for code ${code}; give a message`)
    this.#pending.push({
      path,
      method: method?.toUpperCase(),
      status,
      body: { success: false, status_code: code, status_message: statusMessage },
      retryAfter: retryAfter ?? (status === 429 ? 1 : undefined),
      left: times,
    })
  }

  /** The failure to answer `method path` with, counted as used; undefined to serve the request. */
  take(method: string, path: string): Pending | undefined {
    const index = this.#pending.findIndex(
      (pending) =>
        (pending.method === undefined || pending.method === method) && (typeof pending.path === 'string' ? pending.path === path : pending.path.test(path)),
    )
    const found = this.#pending[index]
    if (found && --found.left === 0) this.#pending.splice(index, 1)
    return found
  }

  /** Answers planned failures on `app`, ahead of every other request hook added after it. */
  register(app: FastifyInstance): void {
    app.addHook('onRequest', async (request, reply) => {
      if (this.#pending.length === 0) return
      const failure = this.take(request.method, request.url.split('?')[0] ?? '')
      if (!failure) return
      if (failure.retryAfter !== undefined) reply.header('retry-after', String(failure.retryAfter))
      return sendJson(reply, failure.status, failure.body)
    })
  }
}
