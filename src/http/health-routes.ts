import type { Store } from '../core/store.js'
import { sendJson } from './responses.js'
import type { RoutePlugin } from './routes.js'

export interface HealthRoutesOptions {
  /** Pinged by `GET /readyz`. */
  store: Pick<Store, 'ping'>
}

/** `GET /healthz` (the process answers) and `GET /readyz` (and its store answers too: 503 when it does not). */
export const healthRoutes: RoutePlugin<HealthRoutesOptions> = (app, { store }) => {
  app.get('/healthz', async (_request, reply) => sendJson(reply, 200, { status: 'ok' }))
  app.get('/readyz', async (_request, reply) => {
    try {
      await store.ping()
      return sendJson(reply, 200, { status: 'ok' })
    } catch {
      return sendJson(reply, 503, { status: 'unavailable' })
    }
  })
}
