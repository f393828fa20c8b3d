import type { PasswordResetTokenRecord } from '../../core/store.js'
import { endAccountCredentials } from './accounts.js'
import { get, run, type Work } from './queryable.js'
import { mapped, toPasswordResetToken, type PasswordResetTokenRow } from './rows.js'

/** Runs in one transaction (several statements). */
export function* insertPasswordResetToken(token: PasswordResetTokenRecord): Work<void> {
  yield* run('DELETE FROM password_reset_tokens WHERE account_id = ? OR expires_at <= ?', token.accountId, token.createdAt)
  yield* run(
    'INSERT INTO password_reset_tokens (token_hash, account_id, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?)',
    token.tokenHash,
    token.accountId,
    token.createdAt,
    token.expiresAt,
    token.usedAt,
  )
}

export function* findPasswordResetToken(tokenHash: string): Work<PasswordResetTokenRecord | null> {
  return mapped(yield* get<PasswordResetTokenRow>('SELECT * FROM password_reset_tokens WHERE token_hash = ?', tokenHash), toPasswordResetToken)
}

/** Runs in one transaction (several statements). */
export function* resetPasswordWithToken(tokenHash: string, passwordHash: string, now: number): Work<number | null> {
  // The guarded UPDATE is what makes the token one-time: of racing callers, one changes the row.
  const used = yield* get<{ account_id: number }>(
    'UPDATE password_reset_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING account_id',
    now,
    tokenHash,
    now,
  )
  if (!used) return null
  yield* run('UPDATE accounts SET password_hash = ? WHERE id = ?', passwordHash, used.account_id)
  yield* endAccountCredentials(used.account_id, now)
  return used.account_id
}
