import { randomUUID } from 'node:crypto'
import net from 'node:net'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { AuthService } from '../core/auth-service.js'
import type { ClientContext } from '../core/context.js'
import { AuthError } from '../core/errors.js'
import type { AbuseLimits } from '../core/rate-limits.js'
import { STRICT_PAGE_POLICY, STYLED_PAGE_POLICY, setPageSecurityHeaders } from '../http-shared/security-headers.js'
import { logSecurityEvent } from '../http-shared/security-log.js'
import { UNROUTABLE_API_PATH } from '../http-shared/unroutable.js'
import { accessLogWriter } from '../logging/access-log.js'
import { LazyChildLogger } from '../logging/lazy-child-logger.js'
import { registerApiRateLimit } from './abuse.js'
import { registerCors } from './cors.js'
import { HandlersInFlight } from './in-flight.js'
import { assertParametersWithinLimits, bearerToken, parseForm, readApiKey } from './params.js'
import { isApiPath, MAX_PATH_SEGMENT_LENGTH, routableUrl } from './paths.js'
import { redactUrl } from './redact.js'
import { rawStatusResponse, sendAuthError } from './responses.js'
import { ROUTE_METHODS, type RouteGroup } from './routes.js'

export interface AppOptions {
  /** Checks the credentials of every `/3` and `/4` request before it is routed. */
  auth: Pick<AuthService, 'authenticateClient' | 'cachedClient'>
  /**
   * Every route group of the server (health, metrics, v3, v4, the docs, the website), registered in
   * this order, each as a plugin in its own context under the hooks and handlers set up here.
   */
  routes: RouteGroup[]
  /** Structured logger; omit for none. */
  logger?: Logger
  /**
   * On close, the listener stops accepting at once; for this long the open keep-alive connections are
   * still answered (each response with `Connection: close`) before the ones left idle are cut: a
   * request a client sent just before the stop is then answered, not reset. Default 0.
   */
  closeGraceMs?: number
  /**
   * The page for an unknown path outside the API (the website's own, with its stylesheet and a way
   * back); default: a bare one.
   */
  notFoundPage?: string
  /** Per-address API limits (the login throttle lives in core); omit for none. */
  limits?: AbuseLimits
  /** Proxies (addresses or CIDRs) whose X-Forwarded-For is believed; default none. */
  trustProxy?: string[]
  /**
   * Longest a client may take to send a whole request (headers and body), and longest a connection
   * may stay silent: past it the connection is closed (with a 400/47 when a request was begun).
   * Default 30 s.
   */
  requestTimeoutMs?: number
  /** Log a line for every request (default true); security events and errors are logged regardless. */
  accessLog?: boolean
}

// Body limit of the contract: anything larger is hostile or broken.
const BODY_LIMIT = 16 * 1024

/** Builds the HTTP application: TMDB's wire format in front of core's rules. */
export async function createApp(options: AppOptions): Promise<FastifyInstance> {
  const requestTimeout = options.requestTimeoutMs ?? 30_000
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger | undefined,
    // Our own onResponse line replaces Fastify's request logs, which would print unredacted URLs.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // A slow client (slowloris: headers, or a body, trickled or never finished) is cut off instead
    // of holding a connection forever. Node checks these limits every connectionsCheckingInterval.
    requestTimeout,
    connectionTimeout: requestTimeout,
    http: { requestTimeout, headersTimeout: requestTimeout, connectionsCheckingInterval: Math.min(1000, requestTimeout) },
    genReqId: () => randomUUID(),
    childLoggerFactory: (logger, bindings, childOptions) => new LazyChildLogger(logger, bindings, childOptions),
    // While draining (see the preClose hook), a request already on an open connection is served,
    // not refused: its client sent it before the server began to stop.
    return503OnClosing: false,
    // Only listed proxies may name the client; anyone else's X-Forwarded-For is ignored.
    trustProxy: options.trustProxy && options.trustProxy.length > 0 ? options.trustProxy : false,
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: MAX_PATH_SEGMENT_LENGTH },
    // One spelling of every path, decided before routing: the router, the credential check, the API
    // rate limit and CORS all see the same URL, so `//3/…` or `/%33/…` cannot slip past them. A path
    // the router cannot take goes to the unroutable route of its side instead, through every hook.
    rewriteUrl: (request) => routableUrl(request.url ?? '/'),
    clientErrorHandler: (error, socket) => {
      // The HTTP parser refused the request (headers too large, broken syntax): answer in TMDB's
      // format rather than with a bare status line, then close.
      if (socket.writable && (error as NodeJS.ErrnoException).code !== 'ECONNRESET') {
        socket.end(rawStatusResponse('INVALID_INPUT'))
      } else {
        socket.destroy()
      }
    },
  })

  app.decorateRequest('client', null)
  // Closing waits for every handler still running, also one whose client has gone: it runs to its end
  // (a write commits, a login hands back the throttle points it reserved) before the store is closed.
  // Added first, so that it wraps every route registered after it, the website's and v4's included.
  const handlers = new HandlersInFlight()
  app.addHook('onRoute', (route) => {
    const handler = route.handler
    route.handler = function (this: FastifyInstance, request, reply) {
      return handlers.run(() => handler.call(this, request, reply))
    }
  })
  app.addHook('onClose', () => handlers.idle())
  registerCors(app)
  if (options.limits) registerApiRateLimit(app, options.limits)

  // wire.md reads parameters from the body whatever the method, so a GET's body is parsed too
  // (Fastify skips it by default); HEAD stays bodyless.
  app.addHttpMethod('GET', { hasBody: true, overrideExisting: true })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string
    // An empty body is no body, whatever its Content-Type: several clients send that on every GET.
    if (text.trim() === '') return done(null, undefined)
    try {
      const parsed: unknown = JSON.parse(text)
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return done(new AuthError('INVALID_INPUT'))
      done(null, parsed)
    } catch {
      done(new AuthError('INVALID_INPUT'))
    }
  })
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, parseForm(body as string))
  })
  // Bodies of any other type carry no parameters of ours; they are read (within the limit) and ignored.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => done(null, undefined))

  // Credentials are checked before routing and before anything else about the parameters: an unknown
  // path, or an over-long parameter, without them is 401/7. A callback hook, answered at once when the
  // key's application is cached (almost every request): an async hook costs a promise and a turn of
  // the microtask queue on every request.
  app.addHook('preHandler', (request, _reply, done) => {
    if (!isApiPath(request.url)) return done()
    const authenticated = (client: ClientContext): void => {
      request.client = client
      assertParametersWithinLimits(request)
    }
    try {
      const credentials = { apiKey: readApiKey(request), bearer: bearerToken(request) }
      const cached = options.auth.cachedClient(credentials)
      if (cached) {
        authenticated(cached)
        return done()
      }
      options.auth
        .authenticateClient(credentials)
        .then(authenticated)
        .then(() => done(), done)
    } catch (error) {
      done(error as Error)
    }
  })

  // Graceful shutdown: once close() begins, every response asks its client to close the connection,
  // so keep-alive connections end after their request in flight instead of holding the drain open.
  let draining = false
  app.addHook('preClose', async () => {
    draining = true
    if (!options.closeGraceMs) return
    // Stop accepting now, not after the grace: a connection accepted at its very end would count as
    // idle before its request was read, and be cut (a proxy sees a reset, 502). Refused now instead, a
    // connection is retried elsewhere by a proxy. net.Server's close, not http.Server's, which would
    // also cut the idle keep-alive connections the grace is for. The poll phase before setImmediate
    // accepts connections already queued, so none is reset with the listening socket.
    await new Promise((resolve) => setImmediate(resolve))
    net.Server.prototype.close.call(app.server)
    await new Promise((resolve) => setTimeout(resolve, options.closeGraceMs))
    // A turn of the event loop runs its due timers before it reads sockets: a request that arrived
    // while the loop was busy as the grace ran out is still unread, and its connection would be cut
    // as idle. The poll phase before setImmediate reads it first.
    await new Promise((resolve) => setImmediate(resolve))
  })
  // A callback hook, not an async one: it runs on every response and should cost next to nothing.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (draining) reply.header('connection', 'close')
    done(null, payload)
  })

  // The access log: a line for every request, written by the process logger with the request id as
  // a field (the line a request's own child logger would write, without making that child).
  const writeAccessLine = options.accessLog === false || !options.logger ? undefined : accessLogWriter(options.logger)
  if (writeAccessLine)
    app.addHook('onResponse', (request, reply, done) => {
      writeAccessLine({
        reqId: request.id,
        method: request.method,
        url: redactUrl(request.url),
        route: request.routeOptions.url ?? null,
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 100) / 100,
      })
      done()
    })

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof AuthError) {
      if (error.code === 'RATE_LIMITED') logSecurityEvent(request, 'limiter_blocked', { reason: error.code })
      if (error.code === 'SERVICE_OFFLINE') request.log.warn({ err: describe(error.cause) }, 'service unavailable')
      return sendAuthError(reply, error)
    }
    const statusCode = (error as { statusCode?: number }).statusCode
    if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
      // Fastify's own refusals (body too large, unsupported media type, bad URL): TMDB's "input is not valid".
      return sendAuthError(reply, new AuthError('INVALID_INPUT'))
    }
    request.log.error({ err: describe(error) }, 'unexpected error')
    return sendAuthError(reply, new AuthError('INTERNAL_ERROR'))
  })

  app.setNotFoundHandler((request, reply) => {
    if (isApiPath(request.url)) {
      // No route for this method (HEAD, TRACE, PROPFIND, …): 405/42 when the path has routes of others.
      // findRoute() answers null when nothing matches, which its type leaves out.
      const allowed = ROUTE_METHODS.filter((method) => (app.findRoute({ method, url: request.url }) as object | null) !== null)
      if (allowed.length === 0) return sendAuthError(reply, new AuthError('NOT_FOUND'))
      reply.header('allow', allowed.join(', '))
      return sendAuthError(reply, new AuthError('METHOD_NOT_SUPPORTED'))
    }
    // The same protective headers as the website's own pages.
    return setPageSecurityHeaders(reply, options.notFoundPage === undefined ? STRICT_PAGE_POLICY : STYLED_PAGE_POLICY)
      .code(404)
      .type('text/html; charset=utf-8')
      .send(options.notFoundPage ?? notFoundPage())
  })

  // Every method: a path that cannot be routed is bad input whatever is asked of it.
  app.all(UNROUTABLE_API_PATH, () => {
    throw new AuthError('INVALID_INPUT')
  })
  for (const group of options.routes) await group.register(app)
  return app
}

function describe(error: unknown): { name?: string; code?: unknown; message?: string } | undefined {
  if (!(error instanceof Error)) return undefined
  // Names and codes only: driver messages can quote SQL parameters, which may be secrets' hashes.
  return { name: error.name, code: (error as { code?: unknown }).code }
}

function notFoundPage(): string {
  return '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Not found</title></head><body><h1>Not found</h1><p>There is no page at this address.</p></body></html>'
}
