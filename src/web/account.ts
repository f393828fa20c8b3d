import type { CookieSerializeOptions } from '@fastify/cookie'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AccountService } from '../core/account-service.js'
import { AuthError, UsageError } from '../core/errors.js'
import type { AccountRecord } from '../core/store.js'
import type { WebsiteService } from '../core/website-service.js'
import { logLoginFailure, logSecurityEvent } from '../http-shared/security-log.js'
import { ACCOUNT_NOTICES, accountPage, resetPage, type AccountNotice } from './account-pages.js'
import { formField, sendPage, type CookieNames } from './common.js'
import { messagePage, sentence, type FormError } from './pages.js'

export interface AccountRoutesOptions {
  website: WebsiteService
  account: AccountService
  /** The website's cookie options (path, HttpOnly, SameSite, Secure), to clear its session cookie. */
  cookieOptions: CookieSerializeOptions
  /** The website's cookie names (`__Host-` on https). */
  names: CookieNames
}

/** Who is looking at the account page: the account and the website session token of its cookie. */
interface Visitor {
  account: AccountRecord
  webSessionToken: string
}

/**
 * The account page (`/account`, signed in) and the password reset link's page (`/account/reset`).
 * Registered inside the website's scope, so it shares its cookies, CSRF protection, headers and
 * error pages. Every change is a CSRF-protected form post answered by a redirect (or the page again
 * with its errors), and logged as a security event.
 */
export function registerAccountPages(web: FastifyInstance, options: AccountRoutesOptions): void {
  const { website, account: accounts, cookieOptions, names } = options
  // Every form post of these pages also counts against the website's per-address form limit.
  // eslint-disable-next-line @typescript-eslint/unbound-method -- the plugin's csrfProtection is a plain function that never reads `this`
  const csrf = { preHandler: [web.csrfProtection, async (request: FastifyRequest) => accounts.formPost(request.ip)] }

  const visitor = async (request: FastifyRequest): Promise<Visitor | null> => {
    const webSessionToken = request.cookies[names.session]
    const account = await website.accountOf(webSessionToken)
    return account && webSessionToken !== undefined ? { account, webSessionToken } : null
  }
  const toLogin = (reply: FastifyReply): FastifyReply => reply.redirect('/login?next=%2Faccount', 303)
  const showAccount = async (
    reply: FastifyReply,
    who: Visitor,
    status: number,
    extra: { notice?: AccountNotice; errors?: FormError[]; name?: string | undefined } = {},
  ): Promise<FastifyReply> => {
    const credentials = await accounts.credentials(who.account, who.webSessionToken)
    return sendPage(reply, status, accountPage({ csrf: reply.generateCsrf(), account: who.account, credentials, ...extra }))
  }

  web.get('/account', async (request, reply) => {
    const who = await visitor(request)
    if (!who) return toLogin(reply)
    const done = (request.query as Record<string, unknown> | undefined)?.done
    const notice = typeof done === 'string' && Object.hasOwn(ACCOUNT_NOTICES, done) ? (done as AccountNotice) : undefined
    return showAccount(reply, who, 200, notice ? { notice } : {})
  })

  web.post('/account/name', csrf, async (request, reply) => {
    const who = await visitor(request)
    if (!who) return toLogin(reply)
    const name = formField(request.body, 'name')
    try {
      await accounts.setDisplayName(who.account, name)
    } catch (error) {
      if (!(error instanceof UsageError)) throw error
      return showAccount(reply, who, 400, { errors: [{ message: sentence(error.message), fields: ['display-name'] }], name })
    }
    logSecurityEvent(request, 'display_name_changed', { accountId: who.account.id, via: 'website' })
    return reply.redirect('/account?done=name', 303)
  })

  web.post('/account/password', csrf, async (request, reply) => {
    const who = await visitor(request)
    if (!who) return toLogin(reply)
    try {
      await accounts.changePassword({
        account: who.account,
        currentPassword: formField(request.body, 'current_password'),
        newPassword: formField(request.body, 'new_password'),
        webSessionToken: who.webSessionToken,
        address: request.ip,
      })
    } catch (error) {
      logLoginFailure(request, error, { accountId: who.account.id, via: 'account' })
      const refusal = passwordChangeRefusal(error)
      if (!refusal) throw error
      return showAccount(reply, who, refusal.status, { errors: [refusal.error] })
    }
    logSecurityEvent(request, 'password_changed', { accountId: who.account.id, via: 'website' })
    return reply.redirect('/account?done=password', 303)
  })

  web.post('/account/revoke', csrf, async (request, reply) => {
    const who = await visitor(request)
    if (!who) return toLogin(reply)
    const ended = await accounts.revoke(who.account, formField(request.body, 'ref'), who.webSessionToken)
    if (!ended) return reply.redirect('/account', 303)
    logSecurityEvent(request, 'credential_revoked', { accountId: who.account.id, via: ended.kind })
    if (!ended.current) return reply.redirect('/account?done=revoked', 303)
    reply.clearCookie(names.session, cookieOptions)
    return reply.redirect('/login', 303)
  })

  web.post('/account/logout-everywhere', csrf, async (request, reply) => {
    const who = await visitor(request)
    if (!who) return toLogin(reply)
    await accounts.logOutEverywhere(who.account)
    logSecurityEvent(request, 'logged_out_everywhere', { accountId: who.account.id, via: 'website' })
    reply.clearCookie(names.session, cookieOptions)
    return reply.redirect('/login', 303)
  })

  // The token rides in the query (`token` is one of the parameters every log line redacts).
  web.get('/account/reset', async (request, reply) => {
    const token = (request.query as Record<string, unknown> | undefined)?.token
    const target = await resetTargetOrNull(accounts, typeof token === 'string' ? token : undefined)
    if (!target) return deadResetLink(reply)
    return sendPage(reply, 200, resetPage({ csrf: reply.generateCsrf(), token: token as string, username: target.username }))
  })

  web.post('/account/reset', csrf, async (request, reply) => {
    const token = formField(request.body, 'token')
    try {
      const account = await accounts.resetPassword(token, formField(request.body, 'new_password'))
      logSecurityEvent(request, 'password_reset', { accountId: account.id, via: 'reset_link' })
    } catch (error) {
      if (error instanceof AuthError && error.code === 'NOT_FOUND') return deadResetLink(reply)
      if (!(error instanceof UsageError)) throw error
      const target = await resetTargetOrNull(accounts, token)
      if (!target) return deadResetLink(reply)
      const errors = [{ message: sentence(error.message), fields: ['new-password'] }]
      return sendPage(reply, 400, resetPage({ csrf: reply.generateCsrf(), token: token!, username: target.username, errors }))
    }
    // Every session of the account has ended, whoever's browser this is.
    reply.clearCookie(names.session, cookieOptions)
    const body = messagePage('Password set', 'Your new password is set, and every session of your account was logged out.', {
      tone: 'ok',
      link: { href: '/login', text: 'Log in' },
    })
    return sendPage(reply, 200, body)
  })
}

async function resetTargetOrNull(accounts: AccountService, token: string | undefined): Promise<AccountRecord | null> {
  try {
    return await accounts.resetTarget(token)
  } catch (error) {
    if (error instanceof AuthError && error.code === 'NOT_FOUND') return null
    throw error
  }
}

function deadResetLink(reply: FastifyReply): FastifyReply {
  const body = messagePage(
    'Link not valid',
    'This password reset link is unknown, has expired, or has already been used. Ask your cinepass operator for a new one.',
    {
      link: { href: '/login', text: 'Go to the log-in page' },
    },
  )
  return sendPage(reply, 410, body)
}

/** The status and form error for a refused password change; null when the error is not a refusal of the form. */
function passwordChangeRefusal(error: unknown): { status: number; error: FormError } | null {
  if (error instanceof UsageError) return { status: 400, error: { message: sentence(error.message), fields: ['new-password'] } }
  if (!(error instanceof AuthError)) return null
  if (error.code === 'CREDENTIALS_REQUIRED') return { status: 400, error: { message: 'Enter your current password.', fields: ['current-password'] } }
  if (error.code === 'INVALID_LOGIN') return { status: 401, error: { message: 'Your current password is not right.', fields: ['current-password'] } }
  return null
}
