import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AbuseLimits } from '../core/rate-limits.js'

/**
 * The client's IP: Fastify's `request.ip`, which is the socket address unless the socket is a
 * trusted proxy (`trustProxy`), in which case it is the right-most address of `X-Forwarded-For`
 * that is not itself a trusted proxy. (Core groups IPv6 by /64 when it counts.)
 */
export function clientAddress(request: FastifyRequest): string {
  return request.ip
}

/**
 * Counts every API request against its address's per-second limit before anything else is done
 * with it (credentials, body), so a flood costs as little as possible.
 */
export function registerApiRateLimit(app: FastifyInstance, limits: AbuseLimits, isApiPath: (url: string) => boolean): void {
  if (limits.settings.apiPerSecond === 0) return
  app.addHook('onRequest', async (request) => {
    if (isApiPath(request.url)) await limits.apiRequest(clientAddress(request))
  })
}
