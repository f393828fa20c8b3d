import { run, type Work } from './queryable.js'

// Tables whose rows die at `expires_at`; sessions only when a lifetime was configured.
const PURGEABLE: readonly [table: string, key: string, extra: string][] = [
  ['request_tokens', 'token_hash', ''],
  ['v4_request_tokens', 'id_hash', ''],
  ['guest_sessions', 'session_hash', ''],
  ['web_sessions', 'session_hash', ''],
  ['password_reset_tokens', 'token_hash', ''],
  ['sessions', 'session_hash', ' AND expires_at IS NOT NULL'],
]

/** See `Store.purgeExpired`. Runs in one transaction (one statement per table). */
export function* purgeExpired(now: number, limit: number): Work<number> {
  let remaining = limit
  for (const [table, key, extra] of PURGEABLE) {
    if (remaining <= 0) break
    remaining -= yield* run(`DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE expires_at <= ?${extra} LIMIT ?)`, now, remaining)
  }
  return limit - remaining
}
