import type { FastifyReply } from 'fastify'

/**
 * Sets `Retry-After` to `seconds` rounded up to a whole second, at least 1 (a client told 0 would
 * retry at once); does nothing when `seconds` is undefined (the refusal names no wait).
 */
export function setRetryAfter(reply: FastifyReply, seconds: number | undefined): FastifyReply {
  if (seconds !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(seconds))))
  return reply
}
