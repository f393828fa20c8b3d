import type { AccountCredential, CredentialRef, PasswordChange } from '../../core/store.js'
import { endAccountCredentials } from './accounts.js'
import { all, run, type Work } from './queryable.js'
import { toAccountCredential, type AccountCredentialRow } from './rows.js'

// The three kinds of credential as one list; the NULL columns are cast so that PostgreSQL knows
// their type in the first branch of the UNION.
const LIST = `SELECT 'session' AS kind, s.session_hash AS hash, a.name AS app_name, s.created_at, s.expires_at, CAST(NULL AS BIGINT) AS last_used_at
     FROM sessions s JOIN applications a ON a.id = s.app_id
    WHERE s.account_id = ? AND (s.expires_at IS NULL OR s.expires_at > ?)
   UNION ALL
   SELECT 'access_token', t.id_hash, a.name, t.created_at, CAST(NULL AS BIGINT), CAST(NULL AS BIGINT)
     FROM access_tokens t JOIN applications a ON a.id = t.app_id
    WHERE t.account_id = ? AND t.revoked_at IS NULL
   UNION ALL
   SELECT 'web_session', w.session_hash, CAST(NULL AS TEXT), w.created_at, w.expires_at, w.last_used_at
     FROM web_sessions w WHERE w.account_id = ? AND w.expires_at > ?
   ORDER BY created_at DESC, hash LIMIT ?`

export function* listAccountCredentials(accountId: number, now: number, limit: number): Work<AccountCredential[]> {
  return (yield* all<AccountCredentialRow>(LIST, accountId, now, accountId, accountId, now, limit)).map(toAccountCredential)
}

export function* endAccountCredential(accountId: number, credential: CredentialRef, now: number): Work<boolean> {
  switch (credential.kind) {
    case 'session':
      return (yield* run('DELETE FROM sessions WHERE session_hash = ? AND account_id = ?', credential.hash, accountId)) === 1
    case 'web_session':
      return (yield* run('DELETE FROM web_sessions WHERE session_hash = ? AND account_id = ?', credential.hash, accountId)) === 1
    // Only the token: a session converted from it is a row of its own, revoked on its own.
    case 'access_token':
      return (
        (yield* run('UPDATE access_tokens SET revoked_at = ? WHERE id_hash = ? AND account_id = ? AND revoked_at IS NULL', now, credential.hash, accountId)) ===
        1
      )
  }
}

/**
 * Runs in one transaction (several statements). The epoch moves on (see `endAccountCredentials`):
 * the kept website session is carried over to the new one, nothing else issued before survives.
 */
export function* changeAccountPassword(input: PasswordChange): Work<boolean> {
  const changed =
    (yield* run('UPDATE accounts SET password_hash = ? WHERE id = ? AND password_hash = ?', input.passwordHash, input.accountId, input.expectedHash)) === 1
  if (changed) yield* endAccountCredentials(input.accountId, input.now, input.keepWebSessionHash)
  return changed
}

export function* touchWebSession(sessionHash: string, now: number, intervalMs: number): Work<void> {
  yield* run(
    'UPDATE web_sessions SET last_used_at = ? WHERE session_hash = ? AND (last_used_at IS NULL OR last_used_at <= ?)',
    now,
    sessionHash,
    now - intervalMs,
  )
}
