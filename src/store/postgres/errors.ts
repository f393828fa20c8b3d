// SQLSTATE classes and codes meaning "the database cannot serve this now": connection exceptions
// (08), insufficient resources (53), operator intervention (57: shutdown, statement timeout, cannot
// connect now), and serialization failures or deadlocks (40001, 40P01) a retry would clear.
const UNAVAILABLE_SQLSTATE = /^(08|53|57|40001|40P01)/
const UNAVAILABLE_NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'])
const UNAVAILABLE_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Cannot use a pool after calling end|Client was closed|not queryable/i

/** True when `error` means the database cannot be reached or cannot take the work now. */
export function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string' && (UNAVAILABLE_NETWORK.has(code) || (code.length === 5 && UNAVAILABLE_SQLSTATE.test(code)))) return true
  if (error instanceof AggregateError) return error.errors.some(isUnavailable)
  return error instanceof Error && UNAVAILABLE_MESSAGE.test(error.message)
}

// A deadlock (two instances' batches locking shared rows in opposite orders), a serialization failure,
// or the statement timeout (which, at 1 s, fires before PostgreSQL's deadlock check): the batch is
// aborted whole, and its callers alone cannot deadlock (one row lock each). If the database itself is
// the trouble, the first caller alone finds out and the rest fail with it.
const RETRY_ALONE_SQLSTATE = new Set(['40P01', '40001', '57014'])

/**
 * True when a failed batched statement means no caller of the batch can be served now; false when
 * its callers should each be retried alone (a deadlock, a serialization failure, a timeout, a
 * constraint one row broke).
 */
export function failsWholeBatch(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return isUnavailable(error) && !(typeof code === 'string' && RETRY_ALONE_SQLSTATE.has(code))
}

/** True when `error` is a foreign-key violation: a row named an application or account that is gone. */
export function isForeignKeyViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '23503'
}
