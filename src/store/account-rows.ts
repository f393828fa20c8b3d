import type { AccountCredential, CredentialKind, PasswordResetTokenRecord } from '../core/store.js'
import type { Row } from './rows.js'

/**
 * Row → record mapping of the account page's queries, shared by the SQL backends (as `rows.ts` is
 * for the rest).
 */
export function toAccountCredential(row: Row): AccountCredential {
  return {
    kind: row.kind as CredentialKind,
    hash: row.hash as string,
    appName: (row.app_name as string | null) ?? null,
    createdAt: Number(row.created_at),
    expiresAt: optionalNumber(row.expires_at),
    lastUsedAt: optionalNumber(row.last_used_at),
  }
}

export function toPasswordResetToken(row: Row | undefined): PasswordResetTokenRecord | null {
  if (!row) return null
  return {
    tokenHash: row.token_hash as string,
    accountId: Number(row.account_id),
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    usedAt: optionalNumber(row.used_at),
  }
}

function optionalNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value)
}
