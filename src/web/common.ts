import type { FastifyReply } from 'fastify'

// What the website's pages and the account pages both need: the cookie names, sending a page, reading
// a form field.

export const SESSION_COOKIE = 'cinepass_session'
export const CSRF_COOKIE = 'cinepass_csrf'

/** The names of the website's cookies on one server. */
export interface CookieNames {
  session: string
  csrf: string
}

/**
 * The cookie names the website uses: over https with the `__Host-` prefix, which browsers accept only
 * from the host itself (Secure, Path=/, no Domain), so a sibling host cannot plant one.
 */
export function cookieNames(secure: boolean): CookieNames {
  const prefix = secure ? '__Host-' : ''
  return { session: prefix + SESSION_COOKIE, csrf: prefix + CSRF_COOKIE }
}

export function sendPage(reply: FastifyReply, status: number, page: string): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(page)
}

/** A string field of a parsed form body (a null-prototype object), or undefined. */
export function formField(body: unknown, name: string): string | undefined {
  if (body === null || typeof body !== 'object' || !Object.hasOwn(body, name)) return undefined
  const value = (body as Record<string, unknown>)[name]
  return typeof value === 'string' ? value : undefined
}
