import { hash } from 'node:crypto'
import type { AuthService } from '../core/auth-service.js'
import { AuthError } from '../core/errors.js'
import type { AbuseLimits } from '../core/rate-limits.js'
import type { AccountRecord } from '../core/store.js'
import { clientAddress } from '../http-shared/client-address.js'
import { logLoginFailure, logSecurityEvent } from '../http-shared/security-log.js'
import { TMDB_STATUS } from '../wire/status.js'
import {
  formatTmdbTime,
  type AccountDetails,
  type GuestSessionResponse,
  type SessionResponse,
  type StatusResponse,
  type SuccessResponse,
  type TokenResponseWithExpiration,
} from '../wire/types.js'
import { readParameter } from './params.js'
import { sendJson } from './responses.js'
import { apiRoute, clientOf, type RoutePlugin } from './routes.js'

export interface V3RoutesOptions {
  auth: AuthService
  /** Per-address limits on new request tokens and guest sessions; omit for none. */
  limits?: AbuseLimits
  /** The URL users reach this server at, without a trailing slash, read at request time (for `Authentication-Callback`). */
  publicUrl: () => string
}

/** TMDB's v3 authentication endpoints and the account lookup clients make right after login. */
export const v3Routes: RoutePlugin<V3RoutesOptions> = (app, options) => {
  const { auth } = options

  apiRoute(app, '/3/authentication', ['GET'], async (_request, reply) => {
    const body: StatusResponse = { success: true, status_code: 1, status_message: TMDB_STATUS.SUCCESS.message }
    return sendJson(reply, 200, body)
  })

  apiRoute(app, '/3/authentication/token/new', ['GET'], async (request, reply) => {
    const client = clientOf(request)
    await options.limits?.requestToken(clientAddress(request))
    const { requestToken, expiresAt } = await auth.createRequestToken(client)
    reply.header('authentication-callback', `${options.publicUrl()}/authenticate/${requestToken}`)
    const body: TokenResponseWithExpiration = { success: true, expires_at: formatTmdbTime(expiresAt), request_token: requestToken }
    return sendJson(reply, 200, body)
  })

  apiRoute(app, '/3/authentication/token/validate_with_login', ['GET', 'POST'], async (request, reply) => {
    const client = clientOf(request)
    const appId = client.app.id
    const { requestToken, expiresAt, accountId } = await auth
      .validateWithLogin(client, {
        username: readParameter(request, 'username'),
        password: readParameter(request, 'password'),
        requestToken: readParameter(request, 'request_token'),
        address: clientAddress(request),
      })
      .catch((error: unknown) => {
        logLoginFailure(request, error, { appId, via: 'validate_with_login' })
        throw error
      })
    logSecurityEvent(request, 'login_succeeded', { accountId, appId, via: 'validate_with_login' })
    logSecurityEvent(request, 'request_token_approved', { accountId, appId, via: 'validate_with_login' })
    const body: TokenResponseWithExpiration = { success: true, expires_at: formatTmdbTime(expiresAt), request_token: requestToken }
    return sendJson(reply, 200, body)
  })

  apiRoute(app, '/3/authentication/session/new', ['GET', 'POST'], async (request, reply) => {
    const client = clientOf(request)
    const { sessionId, accountId } = await auth.createSession(client, readParameter(request, 'request_token'))
    logSecurityEvent(request, 'session_created', { accountId, appId: client.app.id, via: 'request_token' })
    const body: SessionResponse = { success: true, session_id: sessionId }
    return sendJson(reply, 200, body)
  })

  apiRoute(app, '/3/authentication/guest_session/new', ['GET'], async (request, reply) => {
    const client = clientOf(request)
    await options.limits?.guestSession(clientAddress(request))
    const { guestSessionId, expiresAt } = await auth.createGuestSession(client)
    const body: GuestSessionResponse = { success: true, guest_session_id: guestSessionId, expires_at: formatTmdbTime(expiresAt) }
    return sendJson(reply, 200, body)
  })

  apiRoute(app, '/3/authentication/session', ['DELETE'], async (request, reply) => {
    const client = clientOf(request)
    await auth.deleteSession(client, readParameter(request, 'session_id'))
    logSecurityEvent(request, 'session_deleted', { appId: client.app.id })
    const body: SuccessResponse = { success: true }
    return sendJson(reply, 200, body)
  })

  const account = async (sessionId: string | undefined, request: Parameters<typeof clientOf>[0]): Promise<AccountRecord> =>
    auth.accountFor(clientOf(request), sessionId)

  apiRoute(app, '/3/account', ['GET'], async (request, reply) => {
    return sendJson(reply, 200, toAccountDetails(await account(readParameter(request, 'session_id'), request)))
  })

  apiRoute(app, '/3/account/:account_id', ['GET'], async (request, reply) => {
    const found = await account(readParameter(request, 'session_id'), request)
    const { account_id: accountId } = request.params as { account_id: string }
    // Clients put the integer v3 id here; v4 clients may use the 24-hex object id.
    if (accountId !== String(found.id) && accountId !== found.objectId) throw new AuthError('NOT_FOUND')
    return sendJson(reply, 200, toAccountDetails(found))
  })
}

/** The account as TMDB's `GET /3/account` returns it. */
export function toAccountDetails(account: AccountRecord): AccountDetails {
  const gravatar = hash('md5', (account.email ?? '').trim().toLowerCase(), 'hex')
  return {
    avatar: { gravatar: { hash: gravatar }, tmdb: { avatar_path: null } },
    id: account.id,
    iso_639_1: account.language,
    iso_3166_1: account.country,
    name: account.name,
    include_adult: account.includeAdult,
    username: account.username,
  }
}
