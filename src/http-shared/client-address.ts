import type { FastifyRequest } from 'fastify'

/**
 * The client's IP: Fastify's `request.ip`, which is the socket address unless the socket is a
 * trusted proxy (`trustProxy`), in which case it is the right-most address of `X-Forwarded-For`
 * that is not itself a trusted proxy. (Core groups IPv6 by /64 when it counts.)
 */
export function clientAddress(request: FastifyRequest): string {
  return request.ip
}
