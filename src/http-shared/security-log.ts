import type { FastifyRequest } from 'fastify'
import { AuthError } from '../core/errors.js'
import { clientAddress } from './client-address.js'

/** What security.md 1H asks to be logged. */
export type SecurityEvent =
  | 'login_succeeded'
  | 'login_failed'
  | 'session_created'
  | 'session_deleted'
  | 'request_token_approved'
  | 'request_token_denied'
  | 'access_token_created'
  | 'access_token_deleted'
  | 'limiter_blocked'
  | 'password_changed'
  | 'password_reset'
  | 'credential_revoked'
  | 'logged_out_everywhere'
  | 'display_name_changed'

/** Ids and codes only: a field here never holds a password, token, key or username. */
export interface SecurityEventFields {
  /** The integer v3 account id, or the 24-hex account object id where only that is at hand. */
  accountId?: number | string
  appId?: string
  /** The TMDB status name of a refusal (`INVALID_LOGIN`, `RATE_LIMITED`, …). */
  reason?: string
  /**
   * How it happened, where there are several ways (`validate_with_login`, `website`, `convert/4`,
   * `v4`, `account`, `reset_link`), or what was revoked (`session`, `access_token`, `web_session`).
   */
  via?: string
}

/**
 * Logs one security event at info level, as a structured line with `securityEvent`, the request's
 * `reqId` (from its logger), the client `ip` as the trusted-proxy rules compute it, and `fields`.
 */
export function logSecurityEvent(request: FastifyRequest, event: SecurityEvent, fields: SecurityEventFields = {}): void {
  request.log.info({ securityEvent: event, ip: clientAddress(request), ...fields }, 'security event')
}

const LOGIN_REFUSALS = new Set(['CREDENTIALS_REQUIRED', 'INVALID_LOGIN', 'ACCOUNT_DISABLED'])

/** Logs `login_failed` when `error` is a sign-in refusal (a throttle's 429 is logged as a limiter block elsewhere). */
export function logLoginFailure(request: FastifyRequest, error: unknown, fields: SecurityEventFields = {}): void {
  if (error instanceof AuthError && LOGIN_REFUSALS.has(error.code)) logSecurityEvent(request, 'login_failed', { ...fields, reason: error.code })
}
