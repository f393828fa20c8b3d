import type { FastifyRequest } from 'fastify'
import { AuthError } from '../core/errors.js'

// Longer than any token, password or username a client sends; longer values are hostile.
export const MAX_PARAMETER_LENGTH = 2048

/**
 * Reads one string parameter the way TMDB clients send them: the JSON body first, then a
 * form-encoded body, then the query string. A value that is not a string, is too long, or is given
 * twice with different values is refused with 400/47. An absent one is `undefined`, and so is an
 * empty one (`request_token=`) or a JSON `null`: a source giving either is passed over.
 */
export function readParameter(request: FastifyRequest, name: string): string | undefined {
  const fromBody = ownValue(request.body, name)
  // In a body a parameter is one string: an array or object there is type confusion, not repetition.
  if (!isAbsent(fromBody)) return Array.isArray(fromBody) ? refuse() : checked(fromBody)
  return checked(ownValue(request.query, name))
}

/**
 * The `api_key` parameter. Credentials come before everything else, so a key that is not one
 * well-formed string (an array, an object, two different copies, an over-long value) is an invalid
 * API key, 401/7, not invalid input.
 */
export function readApiKey(request: FastifyRequest): string | undefined {
  try {
    return readParameter(request, 'api_key')
  } catch (error) {
    if (error instanceof AuthError && error.code === 'INVALID_INPUT') throw new AuthError('INVALID_API_KEY')
    throw error
  }
}

/**
 * Refuses a request any of whose parameters, read or not, is over-long: unknown parameters are
 * ignored, but not at any size.
 */
export function assertParametersWithinLimits(request: FastifyRequest): void {
  for (const source of [request.query, request.body]) {
    if (source === null || typeof source !== 'object') continue
    for (const value of Object.values(source as Record<string, unknown>)) {
      const values = Array.isArray(value) ? value : [value]
      if (values.some((item) => typeof item === 'string' && item.length > MAX_PARAMETER_LENGTH)) refuse()
    }
  }
}

function refuse(): never {
  throw new AuthError('INVALID_INPUT')
}

function ownValue(source: unknown, name: string): unknown {
  // Only own properties: `constructor` or `__proto__` must never resolve to Object.prototype's.
  if (source === null || typeof source !== 'object' || !Object.hasOwn(source, name)) return undefined
  return (source as Record<string, unknown>)[name]
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === ''
}

function checked(value: unknown): string | undefined {
  if (isAbsent(value)) return undefined
  if (Array.isArray(value)) {
    // A repeated query parameter is tolerated when every copy agrees.
    if (value.length === 0 || !value.every((item) => item === value[0])) refuse()
    return checked(value[0])
  }
  if (typeof value !== 'string' || value.length > MAX_PARAMETER_LENGTH || value.includes('\0')) refuse()
  return value
}

/**
 * A form-encoded body as an object without a prototype. A key repeated with the same value counts
 * once; with different values it becomes an array, which `readParameter` refuses.
 */
export function parseForm(body: string): Record<string, string | string[]> {
  const result = Object.create(null) as Record<string, string | string[]>
  for (const [key, value] of new URLSearchParams(body)) {
    const previous = result[key]
    if (previous === undefined || previous === value) result[key] = value
    else result[key] = Array.isArray(previous) ? [...previous, value] : [previous, value]
  }
  return result
}

/** The token of an `Authorization: Bearer …` header, if there is one. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (typeof header !== 'string') return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  // Other schemes (Basic) and an empty Bearer are not credentials of ours; api_key may still be.
  return match?.[1]
}
