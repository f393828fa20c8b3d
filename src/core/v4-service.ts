import type { JWTPayload } from 'jose'
import { isCurrent, pendingUnlessStored, type AuthService } from './auth-service.js'
import type { ClientContext, CoreDeps } from './context.js'
import { AuthError } from './errors.js'
import { checkRedirect } from './redirect.js'
import { constantTimeEqual, hashSecret, randomHex } from './secrets.js'
import { isJwtShaped } from './signing-keys.js'
import type { IssuedV4RequestToken } from './store.js'

const PENDING_SCOPE = 'pending_request_token'
const WRITE_SCOPE = 'api_write'

/** A verified v4 request token: the hash of its `jti` names its row. */
export interface V4RequestTokenClaims {
  idHash: string
  payload: JWTPayload
}

/**
 * TMDB's v4 authentication: request tokens (JWTs, 15 minutes, used once), user access tokens (JWTs
 * that last until deleted), and `convert/4`, which turns a user access token into a v3 session.
 * Only the `jti` of a token is stored, as its hash.
 */
export class V4Service {
  constructor(
    private readonly deps: CoreDeps,
    private readonly auth: AuthService,
  ) {}

  /**
   * `POST /4/auth/request_token`: a pending request token of the client's application. Nothing is
   * stored: the signed token carries all its row will need when the user decides.
   */
  async createRequestToken(client: ClientContext, redirectTo: string | undefined): Promise<string> {
    const { clock, random, keys, lifetimes } = this.deps
    const redirect = redirectTo === undefined || redirectTo === '' ? null : redirectTo
    // Refused here already, so an app learns of a bad redirect_to before a user sees an error page.
    if (redirect !== null) checkRedirect(redirect, client.app)
    const jti = randomHex(random, 20)
    const nbf = Math.floor(clock.now() / 1000)
    const exp = nbf + Math.floor(lifetimes.v4RequestTokenTtlMs / 1000)
    return keys.sign({ aud: client.apiKey, jti, scopes: [PENDING_SCOPE], nbf, exp, redirect_to: redirect, version: 2 })
  }

  /**
   * The claims of a v4 request token signed by us (any application's), or null when it is not one:
   * bad signature, retired key, expired, without `nbf` and `exp`, or the wrong kind of token.
   */
  async verifyRequestToken(token: string): Promise<V4RequestTokenClaims | null> {
    if (!isJwtShaped(token)) return null
    const payload = await this.deps.keys.verify(token)
    if (!payload || payload.version !== 2 || typeof payload.jti !== 'string' || !scopesOf(payload).includes(PENDING_SCOPE)) return null
    // Every request token we issue has both: a pending one has no row, so its claims are all it is.
    if (typeof payload.nbf !== 'number' || typeof payload.exp !== 'number') return null
    return { idHash: hashSecret(payload.jti), payload }
  }

  /**
   * The row a verified request token gets when the user first decides on it (a pending token has
   * none): its application (from the API key it names), times and `redirect_to`. Null when the
   * application is gone.
   */
  async issuedOf(claims: V4RequestTokenClaims): Promise<IssuedV4RequestToken | null> {
    const { aud, nbf, exp, redirect_to: redirectTo } = claims.payload
    const app = typeof aud === 'string' ? await this.auth.applicationOfKey(aud) : null
    if (!app || typeof nbf !== 'number' || typeof exp !== 'number') return null
    return { appId: app.id, createdAt: nbf * 1000, expiresAt: exp * 1000, redirectTo: typeof redirectTo === 'string' ? redirectTo : null }
  }

  /**
   * `POST /4/auth/access_token`: consumes an approved request token of the client's application,
   * once, into a user access token. 422/41 while the user has not approved it; 401/33 when it is
   * expired, used, unknown or another application's.
   */
  async createAccessToken(client: ClientContext, requestToken: string | undefined): Promise<{ accessToken: string; accountId: string }> {
    if (requestToken === undefined) throw new AuthError('INVALID_PARAMETERS')
    const claims = await this.verifyRequestToken(requestToken)
    if (!claims || !sameAudience(claims.payload, client.apiKey)) throw new AuthError('INVALID_REQUEST_TOKEN')
    const { store, clock, random, keys } = this.deps
    const now = clock.now()
    const jti = randomHex(random, 20)
    const idHash = hashSecret(jti)
    const consume = () =>
      store.createAccessTokenFromRequestToken(claims.idHash, client.app.id, now, { idHash, appId: client.app.id, createdAt: now, revokedAt: null })
    let result = await consume()
    if (!result.ok && result.reason === 'invalid') result = await pendingUnlessStored(consume, () => store.findV4RequestToken(claims.idHash))
    if (!result.ok) throw new AuthError(result.reason === 'invalid' ? 'INVALID_REQUEST_TOKEN' : 'REQUEST_TOKEN_NOT_APPROVED')
    // As session/new: a change committed while the consuming statement ran leaves a dead token.
    const [row, account] = await Promise.all([store.findAccessToken(idHash), store.findAccountById(result.accountId)])
    if (!row || !account || !isCurrent(row, account)) {
      await store.revokeAccessToken(idHash, client.app.id, now)
      throw new AuthError('INVALID_REQUEST_TOKEN')
    }
    const accessToken = await keys.sign({
      aud: client.apiKey,
      nbf: Math.floor(now / 1000),
      jti,
      sub: account.objectId,
      scopes: ['api_read', WRITE_SCOPE],
      version: 2,
    })
    return { accessToken, accountId: account.objectId }
  }

  /**
   * `DELETE /4/auth/access_token`: logs the user out; the token is refused everywhere afterwards,
   * and the sessions `convert/4` made from it end with it. 401/35 for anything that is not a live
   * user access token of the client's application.
   */
  async deleteAccessToken(client: ClientContext, accessToken: string | undefined): Promise<void> {
    if (accessToken === undefined) throw new AuthError('INVALID_PARAMETERS')
    const idHash = await this.#liveAccessTokenId(client, accessToken, 'INVALID_TOKEN')
    if (!(await this.deps.store.revokeAccessToken(idHash, client.app.id, this.deps.clock.now()))) throw new AuthError('INVALID_TOKEN')
  }

  /**
   * `convert/4`: a new v3 session for the user of a live access token of the client's application,
   * ending when the token is deleted. 401/36 for the application's read access token (it has no
   * write permission); 401/35 for anything else that is not a live user access token (a v4 request
   * token included), and for a token whose account was disabled or changed its password since.
   */
  async convertToSession(client: ClientContext, accessToken: string | undefined): Promise<{ sessionId: string; accountId: number }> {
    if (accessToken === undefined) throw new AuthError('INVALID_PARAMETERS')
    const idHash = await this.#liveAccessTokenId(client, accessToken, 'NO_WRITE_PERMISSION')
    const session = await this.auth.sessionFromAccessToken(client, idHash)
    if (!session) throw new AuthError('INVALID_TOKEN')
    return session
  }

  /**
   * The id hash of a live user access token of the client's application. The application's own read
   * access token is refused with `readTokenRefusal`; anything else with 401/35.
   */
  async #liveAccessTokenId(client: ClientContext, token: string, readTokenRefusal: 'NO_WRITE_PERMISSION' | 'INVALID_TOKEN'): Promise<string> {
    const payload = isJwtShaped(token) ? await this.deps.keys.verify(token) : null
    if (!payload || !sameAudience(payload, client.apiKey)) throw new AuthError('INVALID_TOKEN')
    if (isReadAccessToken(payload, client)) throw new AuthError(readTokenRefusal)
    if (payload.version !== 2 || typeof payload.jti !== 'string' || !scopesOf(payload).includes(WRITE_SCOPE)) throw new AuthError('INVALID_TOKEN')
    const idHash = hashSecret(payload.jti)
    const row = await this.deps.store.findAccessToken(idHash)
    if (!row || row.revokedAt !== null || row.appId !== client.app.id) throw new AuthError('INVALID_TOKEN')
    return idHash
  }
}

function scopesOf(payload: JWTPayload): unknown[] {
  return Array.isArray(payload.scopes) ? payload.scopes : []
}

/** The application's read access token (`version` 1, `api_read` only), as `AdminService` signs it. */
function isReadAccessToken(payload: JWTPayload, client: ClientContext): boolean {
  const scopes = scopesOf(payload)
  return payload.version === 1 && payload.sub === client.app.id && scopes.includes('api_read') && !scopes.includes(WRITE_SCOPE)
}

function sameAudience(payload: JWTPayload, apiKey: string): boolean {
  return typeof payload.aud === 'string' && constantTimeEqual(payload.aud, apiKey)
}
