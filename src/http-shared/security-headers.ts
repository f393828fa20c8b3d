import type { FastifyReply } from 'fastify'

/** The policy of an HTML page that loads nothing and may not be framed (the 404 and error pages). */
export const STRICT_PAGE_POLICY = "default-src 'none'; frame-ancestors 'none'"

/** The policy of an HTML page that loads the website's own stylesheet and nothing else (the website's 404 page). */
export const STYLED_PAGE_POLICY = "default-src 'none'; style-src 'self'; frame-ancestors 'none'"

/**
 * Sets the protective headers every HTML page of the server carries: `Content-Security-Policy`
 * (`policy`, unless the reply already has one), framing refused (`X-Frame-Options: DENY`), no
 * `Referer` sent from the page (its URL can hold a request token), no MIME sniffing.
 */
export function setPageSecurityHeaders(reply: FastifyReply, policy: string = STRICT_PAGE_POLICY): FastifyReply {
  if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', policy)
  return reply.header('x-frame-options', 'DENY').header('referrer-policy', 'no-referrer').header('x-content-type-options', 'nosniff')
}
