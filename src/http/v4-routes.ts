import type { AbuseLimits } from '../core/rate-limits.js'
import type { V4Service } from '../core/v4-service.js'
import { clientAddress } from '../http-shared/client-address.js'
import { logSecurityEvent } from '../http-shared/security-log.js'
import { TMDB_STATUS } from '../wire/status.js'
import type { SessionResponse, V4AccessTokenResponse, V4RequestTokenResponse } from '../wire/types.js'
import { readParameter } from './params.js'
import { sendJson, statusBody } from './responses.js'
import { apiRoute, clientOf, type RoutePlugin } from './routes.js'

const SUCCESS = { success: true, status_code: TMDB_STATUS.SUCCESS.status_code, status_message: TMDB_STATUS.SUCCESS.message } as const

export interface V4RoutesOptions {
  v4: V4Service
  /** Per-address limits (v3 and v4 request tokens share one); omit for none. */
  limits?: AbuseLimits
}

/** TMDB's v4 authentication endpoints and `POST /3/authentication/session/convert/4`. */
export const v4Routes: RoutePlugin<V4RoutesOptions> = (app, { v4, limits }) => {
  apiRoute(app, '/4/auth/request_token', ['POST'], async (request, reply) => {
    const client = clientOf(request)
    // v3 and v4 request tokens share one per-address limit.
    await limits?.requestToken(clientAddress(request))
    const requestToken = await v4.createRequestToken(client, readParameter(request, 'redirect_to'))
    const body: V4RequestTokenResponse = { ...SUCCESS, request_token: requestToken }
    return sendJson(reply, 200, body)
  })

  apiRoute(app, '/4/auth/access_token', ['POST', 'DELETE'], async (request, reply) => {
    const client = clientOf(request)
    if (request.method === 'DELETE') {
      await v4.deleteAccessToken(client, readParameter(request, 'access_token'))
      logSecurityEvent(request, 'access_token_deleted', { appId: client.app.id })
      return sendJson(reply, 200, statusBody('DELETED'))
    }
    const { accessToken, accountId } = await v4.createAccessToken(client, readParameter(request, 'request_token'))
    logSecurityEvent(request, 'access_token_created', { accountId, appId: client.app.id })
    const body: V4AccessTokenResponse = { ...SUCCESS, access_token: accessToken, account_id: accountId }
    return sendJson(reply, 200, body)
  })

  apiRoute(app, '/3/authentication/session/convert/4', ['POST'], async (request, reply) => {
    const client = clientOf(request)
    // Each call stores one more session: capped per address, as request tokens and guest sessions are.
    await limits?.sessionConversion(clientAddress(request))
    const { sessionId, accountId } = await v4.convertToSession(client, readParameter(request, 'access_token'))
    logSecurityEvent(request, 'session_created', { accountId, appId: client.app.id, via: 'convert/4' })
    const body: SessionResponse = { success: true, session_id: sessionId }
    return sendJson(reply, 200, body)
  })
}
