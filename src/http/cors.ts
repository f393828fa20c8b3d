import type { FastifyInstance } from 'fastify'
import { TMDB_STATUS } from '../wire/status.js'
import { JSON_CONTENT_TYPE, type StatusResponse } from '../wire/types.js'
import { isApiPath } from './paths.js'

const ALLOWED_METHODS = 'GET, POST, DELETE, OPTIONS'
// Headers TMDB clients send; a browser only asks for the non-simple ones (Authorization, Content-Type).
const DEFAULT_ALLOWED_HEADERS = 'Authorization, Content-Type, Accept, Accept-Language'
// Response headers a browser script may read: Retry-After is what a client's 429 handling needs.
const EXPOSED_HEADERS = 'Retry-After, Authentication-Callback'
const PREFLIGHT_MAX_AGE_SECONDS = '86400'
const HEADER_LIST = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+(?:\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$/

/**
 * CORS for the API, as TMDB does it: any origin may call it (credentials are explicit, never
 * cookies). Preflights under /3 and /4 are answered in `onRequest`, before the credential check a
 * browser cannot satisfy (a preflight carries no credentials); every API answer, errors included,
 * carries `Access-Control-Allow-Origin: *`. The website is left without CORS.
 */
export function registerCors(app: FastifyInstance): void {
  // A callback hook, not an async one: it runs on every request and should cost next to nothing.
  app.addHook('onRequest', (request, reply, done) => {
    if (!isApiPath(request.url)) return done()
    reply.header('access-control-allow-origin', '*')
    reply.header('access-control-expose-headers', EXPOSED_HEADERS)
    const preflight = request.method === 'OPTIONS' && request.headers.origin !== undefined && request.headers['access-control-request-method'] !== undefined
    // A bare OPTIONS is not a preflight: it goes on to the credential check and the 405 of its route.
    if (!preflight) return done()
    const asked = request.headers['access-control-request-headers']
    const allowedHeaders = typeof asked === 'string' && HEADER_LIST.test(asked.trim()) ? asked.trim() : DEFAULT_ALLOWED_HEADERS
    // wire.md: every API answer has a JSON body, so the preflight gets TMDB's success body, not a 204.
    const body: StatusResponse = { success: true, status_code: 1, status_message: TMDB_STATUS.SUCCESS.message }
    // Answered here: the request goes no further (done is not called).
    reply
      .code(200)
      .header('access-control-allow-methods', ALLOWED_METHODS)
      .header('access-control-allow-headers', allowedHeaders)
      .header('access-control-max-age', PREFLIGHT_MAX_AGE_SECONDS)
      .header('vary', 'Access-Control-Request-Headers')
      .header('content-type', JSON_CONTENT_TYPE)
      .header('cache-control', 'no-store')
      .send(JSON.stringify(body))
  })
}
