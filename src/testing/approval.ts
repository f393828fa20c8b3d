import type { FastifyInstance } from 'fastify'
import { AuthError } from '../core/errors.js'
import { isJwtShaped } from '../core/signing-keys.js'
import type { Core } from '../server.js'

/**
 * Approves a v3 request token (40 hex) or a v4 one (a JWT) as `username`, as the website's
 * "Approve" button does. Throws an `Error` saying why when the user is unknown or disabled, or the
 * token is unknown, expired, used or denied.
 */
export async function approveAs(core: Core, requestToken: string, username: string): Promise<void> {
  const account = await core.deps.store.findAccountByUsername(username)
  if (!account) throw new Error(`approve: no user is named "${username}"`)
  if (account.disabled) throw new Error(`approve: the user "${username}" is disabled`)
  await explained('approve', () =>
    isJwtShaped(requestToken) ? core.website.approveV4(requestToken, account) : core.website.approveV3(requestToken, undefined, account),
  )
}

/** Denies a v3 or v4 request token, as the website's "Deny" button does. */
export async function deny(core: Core, requestToken: string): Promise<void> {
  await explained('deny', () => (isJwtShaped(requestToken) ? core.website.denyV4(requestToken) : core.website.denyV3(requestToken, undefined)))
}

async function explained(action: string, work: () => Promise<unknown>): Promise<void> {
  try {
    await work()
  } catch (error) {
    if (error instanceof AuthError) throw new Error(`${action}: the request token is unknown, expired, already used or decided`, { cause: error })
    throw error
  }
}

const TOKEN_ROUTES = new Set(['/3/authentication/token/new', '/4/auth/request_token'])

/**
 * Approves every request token (v3 and v4) the server hands out as `username`, before the client
 * receives it: for clients whose flow would open the website. For tests and CI only.
 */
export function registerAutoApprove(app: FastifyInstance, core: Core, username: string): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode !== 200 || !TOKEN_ROUTES.has(request.routeOptions.url ?? '') || typeof payload !== 'string') return payload
    const token = (JSON.parse(payload) as { request_token?: unknown }).request_token
    try {
      if (typeof token === 'string') await approveAs(core, token, username)
    } catch (error) {
      // The token stays pending (the client then sees 401/17): a refused approval must not fail the request.
      request.log.warn({ reason: (error as Error).message }, 'auto-approve failed')
    }
    return payload
  })
}
