import { AuthError } from './core/errors.js'

/**
 * Why a process could not start, in one line that names the thing (host:port, path, redacted database
 * URL) and the operating system's or the database's reason; the CLI prints it and exits 1.
 */
export class StartupError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause })
    this.name = 'StartupError'
  }
}

const DESCRIPTIONS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this machine',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
}

// PostgreSQL's SQLSTATEs an operator meets when starting (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const POSTGRES_STATES: Record<string, string> = {
  '28P01': 'authentication failed',
  '28000': 'authentication failed',
  '3D000': 'database does not exist',
  '57P03': 'the database is starting up or shutting down',
  '53300': 'too many connections',
}

interface Described {
  code?: unknown
  syscall?: unknown
  path?: unknown
  message?: unknown
  cause?: unknown
  errors?: unknown
}

/** The first error in `error`'s chain (its cause, or the first of an AggregateError's errors) with a code. */
function withCode(error: unknown, depth = 0): Described | undefined {
  if (typeof error !== 'object' || error === null || depth > 5) return undefined
  const described = error as Described
  // An AuthError's code is TMDB's answer (SERVICE_OFFLINE), not the reason: that is its cause.
  if (typeof described.code === 'string' && !(error instanceof AuthError)) return described
  if (Array.isArray(described.errors)) {
    for (const inner of described.errors) {
      const found = withCode(inner, depth + 1)
      if (found) return found
    }
  }
  return withCode(described.cause, depth + 1)
}

function innermostMessage(error: unknown): string {
  let current = error as Described | undefined
  let message = String(error)
  for (let depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    if (typeof current.message === 'string' && current.message !== '') message = current.message
    current = current.cause as Described | undefined
  }
  return message
}

/**
 * The reason `error` gives, for one line: `ENOENT (no such file or directory: mkdir /a/b)`,
 * `authentication failed (password authentication failed for user "x")`, or its message.
 */
export function failureReason(error: unknown): string {
  const found = withCode(error)
  if (found && typeof found.code === 'string') {
    const code = found.code
    const where = typeof found.syscall === 'string' && typeof found.path === 'string' ? `: ${found.syscall} ${found.path}` : ''
    if (DESCRIPTIONS[code]) return `${code} (${DESCRIPTIONS[code]}${where})`
    if (POSTGRES_STATES[code]) return `${POSTGRES_STATES[code]} (${typeof found.message === 'string' ? found.message : code})`
    if (typeof found.message === 'string' && found.message !== '') return `${code} (${found.message})`
    return code
  }
  return innermostMessage(error).split('\n', 1)[0]!
}
