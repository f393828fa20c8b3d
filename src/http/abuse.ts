import type { FastifyInstance } from 'fastify'
import type { AbuseLimits } from '../core/rate-limits.js'
import { clientAddress } from '../http-shared/client-address.js'
import { isApiPath } from './paths.js'

/**
 * Counts every API request against its address's per-second limit before anything else is done
 * with it (credentials, body), so a flood costs as little as possible.
 */
export function registerApiRateLimit(app: FastifyInstance, limits: AbuseLimits): void {
  if (limits.settings.apiPerSecond === 0) return
  app.addHook('onRequest', async (request) => {
    if (isApiPath(request.url)) await limits.apiRequest(clientAddress(request))
  })
}
