import { createHash } from 'node:crypto'
import fastifyCookie from '@fastify/cookie'
import fastifyCsrf from '@fastify/csrf-protection'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AccountService } from '../core/account-service.js'
import { AuthError, UsageError } from '../core/errors.js'
import type { AccountRecord } from '../core/store.js'
import type { PendingApproval, WebsiteService } from '../core/website-service.js'
import { retryAfterSeconds, setRetryAfter } from '../http-shared/retry-after.js'
import { setPageSecurityHeaders } from '../http-shared/security-headers.js'
import { logLoginFailure, logSecurityEvent } from '../http-shared/security-log.js'
import { UNROUTABLE_PAGE_PATH } from '../http-shared/unroutable.js'
import { registerAccountPages } from './account.js'
import { cookieNames, formField, sendPage } from './common.js'
import { START_LINK, approvePage, loginPage, messagePage, sentence, signedInFooter, signupPage } from './pages.js'
import { STYLESHEET } from './styles.js'

export interface WebsiteRoutesOptions {
  website: WebsiteService
  account: AccountService
  /** The public URL, read at request time (a server started on port 0 learns its port late). */
  publicUrl: () => string
}

/**
 * The CSRF secret of a signed-in browser: derived from its website session cookie, so a form token
 * only fits the session it was made for, and a new session (every sign-in) makes new tokens. The
 * digest cannot be turned back into the session token.
 */
function sessionCsrfSecret(sessionToken: string): string {
  return createHash('sha256').update('cinepass website csrf\0').update(sessionToken).digest('base64url')
}

const CSRF_ERRORS = new Set(['FST_CSRF_MISSING_SECRET', 'FST_CSRF_INVALID_TOKEN'])

/**
 * The approval website: sign-in, sign-up, and approving v3 (`/authenticate/…`) and v4
 * (`/auth/access`) request tokens. Server-rendered HTML, no JavaScript; every form carries a CSRF
 * token bound to a cookie; every page carries a strict CSP and refuses framing.
 */
export async function registerWebsite(app: FastifyInstance, options: WebsiteRoutesOptions): Promise<void> {
  const { website } = options
  const secure = options.publicUrl().startsWith('https:')
  const cookieOptions = { path: '/', httpOnly: true, sameSite: 'lax' as const, secure }
  const names = cookieNames(secure)

  await app.register(async (web) => {
    await web.register(fastifyCookie)
    await web.register(fastifyCsrf, { cookieKey: names.csrf, cookieOpts: cookieOptions, getToken: (request) => formField(request.body, '_csrf') })
    // eslint-disable-next-line @typescript-eslint/unbound-method -- the plugin's csrfProtection is a plain function that never reads `this`
    const csrf = { preHandler: web.csrfProtection }
    // Signed out, the CSRF secret is the random one of its own cookie; with a session cookie, it is
    // the session's (whatever CSRF cookie came along is ignored). The plugin reads the secret from
    // the cookie, so that is where the session's goes, before any form is made or checked.
    web.addHook('preValidation', (request, _reply, done) => {
      const session = request.cookies[names.session]
      if (session) request.cookies[names.csrf] = sessionCsrfSecret(session)
      done()
    })

    web.addHook('onSend', async (_request, reply, payload) => {
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
      setPageSecurityHeaders(reply, contentSecurityPolicy(null))
      return payload
    })
    web.setErrorHandler((error, request, reply) => errorPage(error, request, reply))

    const signedIn = (request: FastifyRequest): Promise<AccountRecord | null> => website.accountOf(request.cookies[names.session])
    const signupOpen = website.options.signup === 'open'
    const startSession = (reply: FastifyReply, token: string): void => {
      reply.setCookie(names.session, token, { ...cookieOptions, maxAge: Math.floor(website.options.webSessionTtlMs / 1000) })
      // The signed-out CSRF secret is done with: signed in, forms use the new session's.
      reply.clearCookie(names.csrf, cookieOptions)
    }

    // A path the router could not take (see UNROUTABLE_PAGE_PATH): the 400 page.
    web.all(UNROUTABLE_PAGE_PATH, () => {
      throw new AuthError('INVALID_INPUT')
    })

    registerAccountPages(web, { website, account: options.account, cookieOptions, names })

    web.get('/assets/cinepass.css', async (_request, reply) =>
      reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(STYLESHEET),
    )

    web.get('/', async (request, reply) => {
      const account = await signedIn(request)
      if (!account) return reply.redirect('/login', 303)
      const body = messagePage('cinepass', 'You are logged in. Applications send you here to approve their access.', {
        link: { href: '/account', text: 'Your account: password, sessions and applications' },
        extra: signedInFooter(account.username, reply.generateCsrf(), '/login'),
      })
      return sendPage(reply, 200, body)
    })

    web.get('/login', async (request, reply) => {
      const next = safeNext(queryString(request, 'next'))
      if (await signedIn(request)) return reply.redirect(next, 303)
      return sendPage(reply, 200, loginPage({ csrf: reply.generateCsrf(), next, signupOpen }))
    })

    web.post('/login', csrf, async (request, reply) => {
      const { username, password } = { username: formField(request.body, 'username'), password: formField(request.body, 'password') }
      const next = safeNext(formField(request.body, 'next'))
      try {
        const { sessionToken, account } = await website.signIn({ username, password, address: request.ip, previousSession: request.cookies[names.session] })
        logSecurityEvent(request, 'login_succeeded', { accountId: account.id, via: 'website' })
        startSession(reply, sessionToken)
        return reply.redirect(next, 303)
      } catch (error) {
        logLoginFailure(request, error, { via: 'website' })
        const message = signInRefusal(error)
        if (message === null) throw error
        const status = error instanceof AuthError && error.code === 'CREDENTIALS_REQUIRED' ? 400 : 401
        return sendPage(reply, status, loginPage({ csrf: reply.generateCsrf(), next, username, error: message, signupOpen }))
      }
    })

    web.get('/signup', async (request, reply) => {
      if (!signupOpen) throw new AuthError('NOT_FOUND')
      return sendPage(reply, 200, signupPage({ csrf: reply.generateCsrf(), next: safeNext(queryString(request, 'next')) }))
    })

    web.post('/signup', csrf, async (request, reply) => {
      const input = {
        username: formField(request.body, 'username'),
        password: formField(request.body, 'password'),
        email: formField(request.body, 'email'),
        name: formField(request.body, 'name'),
      }
      const next = safeNext(formField(request.body, 'next'))
      try {
        const { sessionToken } = await website.signUp({ ...input, address: request.ip, previousSession: request.cookies[names.session] })
        startSession(reply, sessionToken)
        return reply.redirect(next, 303)
      } catch (error) {
        const message = error instanceof UsageError ? sentence(error.message) : signInRefusal(error)
        if (message === null) throw error
        const refused = { message, fields: [signupFieldOf(message)] }
        return sendPage(
          reply,
          400,
          signupPage({ csrf: reply.generateCsrf(), next, username: input.username, name: input.name, email: input.email, error: refused }),
        )
      }
    })

    web.get('/logout', async (request, reply) => {
      const account = await signedIn(request)
      if (!account) return reply.redirect('/login', 303)
      const body = messagePage('Log out', 'Log out of cinepass on this device?', { extra: signedInFooter(account.username, reply.generateCsrf(), '/login') })
      return sendPage(reply, 200, body)
    })

    web.post('/logout', csrf, async (request, reply) => {
      const next = safeNext(formField(request.body, 'next'))
      await website.signOut(request.cookies[names.session], request.ip)
      reply.clearCookie(names.session, cookieOptions)
      return reply.redirect(next, 303)
    })

    /** The sign-in form, or (signed in) the Approve / Deny page. */
    const showApproval = async (
      request: FastifyRequest,
      reply: FastifyReply,
      approval: PendingApproval,
      forms: { approveAction: string; denyAction: string; hidden: Record<string, string> },
    ): Promise<FastifyReply> => {
      const account = await signedIn(request)
      const csrfToken = reply.generateCsrf()
      if (!account) {
        const intro = `Log in to let ${approval.app.name} use your cinepass account.`
        return sendPage(reply, 200, loginPage({ csrf: csrfToken, next: request.url, intro, signupOpen }))
      }
      reply.header('content-security-policy', contentSecurityPolicy(approval.redirect))
      const returnsTo = approval.redirect ? approval.redirect.hostname || approval.redirect.protocol : null
      return sendPage(
        reply,
        200,
        approvePage({ csrf: csrfToken, appName: approval.app.name, username: account.username, returnsTo, here: request.url, ...forms }),
      )
    }

    // v3: /authenticate/{request_token}[?redirect_to=URL]
    web.get('/authenticate/:token', async (request, reply) => {
      const token = tokenParam(request)
      const redirectTo = queryString(request, 'redirect_to')
      const approval = await website.v3Approval(token, redirectTo)
      const base = `/authenticate/${encodeURIComponent(token)}`
      return showApproval(request, reply, approval, {
        approveAction: `${base}/allow`,
        denyAction: `${base}/deny`,
        hidden: redirectTo ? { redirect_to: redirectTo } : {},
      })
    })

    for (const decision of ['allow', 'deny'] as const) {
      web.post(`/authenticate/:token/${decision}`, csrf, async (request, reply) => {
        const token = tokenParam(request)
        const redirectTo = formField(request.body, 'redirect_to')
        const base = `/authenticate/${encodeURIComponent(token)}`
        const account = await signedIn(request)
        if (!account) return reply.redirect(redirectTo ? `${base}?redirect_to=${encodeURIComponent(redirectTo)}` : base, 303)
        const target = decision === 'allow' ? await website.approveV3(token, redirectTo, account) : await website.denyV3(token, redirectTo)
        logSecurityEvent(request, decision === 'allow' ? 'request_token_approved' : 'request_token_denied', { accountId: account.id, via: 'website' })
        return target ? reply.redirect(target, 302) : reply.redirect(`${base}/${decision}`, 303)
      })

      web.get(`/authenticate/:token/${decision}`, async (request, reply) => {
        const token = tokenParam(request)
        const app = await website.v3Decided(token, decision === 'allow' ? 'approved' : 'denied')
        if (decision === 'allow') {
          reply.header('authentication-callback', `${options.publicUrl()}/3/authentication/session/new?request_token=${encodeURIComponent(token)}`)
          return sendPage(
            reply,
            200,
            messagePage('Access approved', `You approved ${app.name}. You can close this window and go back to the application.`, { tone: 'ok' }),
          )
        }
        return sendPage(
          reply,
          200,
          messagePage('Access denied', `You denied ${app.name} access to your account. You can close this window.`, { tone: 'denied' }),
        )
      })
    }

    // v4: /auth/access?request_token=<JWT>
    web.get('/auth/access', async (request, reply) => {
      const token = queryString(request, 'request_token')
      const approval = await website.v4Approval(token)
      return showApproval(request, reply, approval, {
        approveAction: '/auth/access/approve',
        denyAction: '/auth/access/deny',
        hidden: { request_token: token ?? '' },
      })
    })

    for (const decision of ['approve', 'deny'] as const) {
      web.post(`/auth/access/${decision}`, csrf, async (request, reply) => {
        const token = formField(request.body, 'request_token')
        const query = `?request_token=${encodeURIComponent(token ?? '')}`
        const account = await signedIn(request)
        if (!account) return reply.redirect(`/auth/access${query}`, 303)
        const target = decision === 'approve' ? await website.approveV4(token, account) : await website.denyV4(token)
        logSecurityEvent(request, decision === 'approve' ? 'request_token_approved' : 'request_token_denied', { accountId: account.id, via: 'v4' })
        return target ? reply.redirect(target, 302) : reply.redirect(`/auth/access/${decision}${query}`, 303)
      })

      web.get(`/auth/access/${decision}`, async (request, reply) => {
        const app = await website.v4Decided(queryString(request, 'request_token'), decision === 'approve' ? 'approved' : 'denied')
        return decision === 'approve'
          ? sendPage(
              reply,
              200,
              messagePage('Access approved', `You approved ${app.name}. You can close this window and go back to the application.`, { tone: 'ok' }),
            )
          : sendPage(reply, 200, messagePage('Access denied', `You denied ${app.name} access to your account. You can close this window.`, { tone: 'denied' }))
      })
    }
  })
}

/**
 * The website's strict policy: no scripts at all, styles from here only, no framing, forms post
 * here (and, on an approval page, to where the approval redirects: Chrome checks form-action on
 * the redirect that follows a form post).
 */
export function contentSecurityPolicy(redirect: URL | null): string {
  const formAction = ["'self'"]
  if (redirect) {
    const source = redirect.protocol === 'http:' || redirect.protocol === 'https:' ? redirect.origin : redirect.protocol
    // Only plain scheme/host/port text reaches the header: nothing can add a directive.
    if (/^[a-z][a-z0-9+.-]*:(\/\/[a-z0-9.\-:[\]]+)?$/i.test(source)) formAction.push(source)
  }
  return `default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action ${formAction.join(' ')}; frame-ancestors 'none'`
}

function errorPage(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const code = (error as { code?: unknown }).code
  const refusal = (status: number, title: string, message: string): FastifyReply => sendPage(reply, status, messagePage(title, message, { link: START_LINK }))
  if (typeof code === 'string' && CSRF_ERRORS.has(code)) {
    return refusal(403, 'Form expired', 'This form could not be verified. Go back, reload the page and try again.')
  }
  if (error instanceof UsageError) return refusal(400, 'Bad request', sentence(error.message))
  if (error instanceof AuthError) {
    setRetryAfter(reply, error.retryAfterSeconds)
    const waitSeconds = retryAfterSeconds(error.retryAfterSeconds)
    switch (error.code) {
      case 'INVALID_REQUEST_TOKEN':
        return refusal(
          404,
          'Request not found',
          'This approval link is unknown, has expired, or has already been used. Go back to the application and start again.',
        )
      case 'INVALID_PARAMETERS':
        return refusal(400, 'Redirect not allowed', 'The address this application asked to return to (redirect_to) is not allowed.')
      case 'NOT_FOUND':
        return refusal(404, 'Not found', 'There is no page at this address.')
      case 'RATE_LIMITED':
        return refusal(429, 'Too many attempts', `Too many attempts from here. Try again in ${waitText(waitSeconds ?? 60)}.`)
      case 'SERVICE_OFFLINE':
        return refusal(503, 'Busy', `cinepass is busy right now. Try again in ${waitText(waitSeconds ?? 1)}.`)
      default:
        return refusal(400, 'Bad request', 'This request is not valid.')
    }
  }
  const statusCode = (error as { statusCode?: number }).statusCode
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) return refusal(400, 'Bad request', 'This request is not valid.')
  request.log.error({ err: error instanceof Error ? { name: error.name, code } : undefined }, 'unexpected website error')
  return refusal(500, 'Something went wrong', 'Please try again later.')
}

/** A wait as people say it, rounded up: "1 second", "40 seconds", "15 minutes", "2 hours". */
export function waitText(seconds: number): string {
  const [amount, unit] = seconds < 60 ? [seconds, 'second'] : seconds < 3600 ? [Math.ceil(seconds / 60), 'minute'] : [Math.ceil(seconds / 3600), 'hour']
  return `${amount} ${unit}${amount === 1 ? '' : 's'}`
}

/** The sign-up field a refusal is about, by what its message names. */
function signupFieldOf(message: string): string {
  if (/display name/i.test(message)) return 'name'
  if (/email/i.test(message)) return 'email'
  if (/password/i.test(message)) return 'password'
  return 'username'
}

/** The form text shown for a refused sign-in, or null when the error is not a sign-in refusal. */
function signInRefusal(error: unknown): string | null {
  if (!(error instanceof AuthError)) return null
  if (error.code === 'CREDENTIALS_REQUIRED') return 'Enter your username and password.'
  if (error.code === 'INVALID_LOGIN') return 'Invalid username or password.'
  if (error.code === 'ACCOUNT_DISABLED') return 'This account is disabled.'
  return null
}

/** A query parameter given once; a repeated one is refused (400 page). */
function queryString(request: FastifyRequest, name: string): string | undefined {
  const query = request.query as Record<string, unknown> | undefined
  const value = query && Object.hasOwn(query, name) ? query[name] : undefined
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw new AuthError('INVALID_INPUT')
  return value
}

function tokenParam(request: FastifyRequest): string {
  return (request.params as { token: string }).token
}

/**
 * A local path to continue to after signing in, serialised as ASCII (a Location header can hold
 * nothing else: `/€` becomes `/%E2%82%AC`); anything else (other sites, `//host`, `/\host`, a
 * value the URL parser refuses) becomes `/`.
 */
export function safeNext(value: string | undefined): string {
  if (value === undefined || value.length > 8192 || !/^\/(?![/\\])[^\s\\]*$/.test(value)) return '/'
  try {
    const url = new URL(value, LOCAL_ORIGIN)
    return url.origin === LOCAL_ORIGIN ? url.pathname + url.search + url.hash : '/'
  } catch {
    return '/'
  }
}

// Only for resolving a local path: its origin is never shown or followed.
const LOCAL_ORIGIN = 'http://cinepass.invalid'
