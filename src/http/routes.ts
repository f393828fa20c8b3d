import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify'
import type { ClientContext } from '../core/context.js'
import { AuthError } from '../core/errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The application (and user) the request's credentials name; set for every `/3` and `/4` request. */
    client: ClientContext | null
  }
}

/**
 * The methods an API route may serve: a request with any other method, or one of these its path
 * does not serve, is answered 405/42 with the path's own methods in `Allow`.
 */
export const ROUTE_METHODS: HTTPMethods[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']

/**
 * Registers an API route for `methods` (some of `ROUTE_METHODS`). Every other method on its path,
 * HEAD included, is answered 405/42 by the not-found handler after the credential check, and never
 * reaches `handler`: a HEAD must not consume a request token or create one.
 */
export function apiRoute(
  app: FastifyInstance,
  url: string,
  methods: HTTPMethods[],
  handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
): void {
  app.route({ method: methods, url, handler, exposeHeadRoute: false })
}

/** The client context set by the credential hook; every API handler runs after it. */
export function clientOf(request: FastifyRequest): ClientContext {
  if (!request.client) throw new AuthError('INVALID_API_KEY')
  return request.client
}

/**
 * One group of routes (v3, v4, the docs, the website, …): a Fastify plugin and the options it is
 * registered with. `createApp` registers the groups it is given, in order, each in its own
 * encapsulated context under the application's hooks, error handler and not-found handler.
 */
export interface RouteGroup {
  register(app: FastifyInstance): Promise<unknown>
}

/** A group's routes, added to the (encapsulated) instance it is given: at once, or by the promise it returns. */
export type RoutePlugin<Options> = (app: FastifyInstance, options: Options) => void | Promise<void>

/** A `RouteGroup` of `plugin` with `options`, typed together. */
export function routeGroup<Options extends object>(plugin: RoutePlugin<Options>, options: Options): RouteGroup {
  // Awaited inside an async plugin, so that a throw while adding routes rejects the registration:
  // Fastify leaves a synchronous plugin's throw uncaught.
  const asyncPlugin: FastifyPluginAsync<Options> = async (instance, opts) => {
    await plugin(instance, opts)
  }
  // Fastify reads a plugin's marks from the function it is given: Symbol.for('skip-override') (the
  // metrics hook is the application's) and the name it reports (in timeouts, printPlugins()) go with the wrapper.
  Object.assign(asyncPlugin, plugin)
  Object.defineProperty(asyncPlugin, 'name', { value: plugin.name })
  return { register: async (app) => app.register(asyncPlugin, options) }
}
