import type { FastifyReply } from 'fastify'

/**
 * Sets `Retry-After` to `seconds` rounded up to a whole second, at least 1 (a client told 0 would
 * retry at once); does nothing when `seconds` is undefined (the refusal names no wait).
 */
export function setRetryAfter(reply: FastifyReply, seconds: number | undefined): FastifyReply {
  const wait = retryAfterSeconds(seconds)
  if (wait !== undefined) reply.header('retry-after', String(wait))
  return reply
}

/** The wait `Retry-After` states for `seconds` (whole, at least 1); undefined when there is none. */
export function retryAfterSeconds(seconds: number | undefined): number | undefined {
  return seconds === undefined ? undefined : Math.max(1, Math.ceil(seconds))
}
