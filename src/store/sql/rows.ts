import type {
  AccessTokenRecord,
  AccountCredential,
  AccountRecord,
  ApplicationRecord,
  CredentialKind,
  GuestSessionRecord,
  PasswordResetTokenRecord,
  RequestTokenRecord,
  RequestTokenStatus,
  SessionRecord,
  SigningKeyRecord,
  V4RequestTokenRecord,
  WebSessionRecord,
} from '../../core/store.js'

/**
 * The tables' rows as both drivers hand them back, and their mapping to records. Column names are
 * the same on both backends; they differ only in how a flag arrives (SQLite 0/1, PostgreSQL a
 * boolean). 64-bit integers arrive as numbers on both (the PostgreSQL store parses them).
 */
export type Flag = boolean | number

export interface MetaRow {
  key: string
  value: string
}

export interface ApplicationRow {
  id: string
  name: string
  api_key_hash: string
  suspended: Flag
  created_at: number
  /** A JSON array of origins. */
  redirect_origins: string
}

export interface AccountRow {
  id: number
  object_id: string
  username: string
  username_key: string
  name: string
  email: string | null
  language: string
  country: string
  include_adult: Flag
  password_hash: string
  disabled: Flag
  created_at: number
  epoch: number
}

export interface RequestTokenRow {
  token_hash: string
  app_id: string
  created_at: number
  expires_at: number
  status: RequestTokenStatus
  account_id: number | null
  consumed_at: number | null
  epoch: number | null
}

export interface V4RequestTokenRow {
  id_hash: string
  app_id: string
  created_at: number
  expires_at: number
  redirect_to: string | null
  status: RequestTokenStatus
  account_id: number | null
  consumed_at: number | null
  epoch: number | null
}

export interface SessionRow {
  session_hash: string
  app_id: string
  account_id: number
  created_at: number
  expires_at: number | null
  epoch: number
  access_token_id_hash: string | null
}

/** A row of the session checks' statement (`SESSIONS_WITH_ACCOUNTS`): the account's columns, then the session's. */
export interface SessionWithAccountRow extends AccountRow {
  session_hash: string
  app_id: string
  account_id: number
  session_created_at: number
  expires_at: number | null
  session_epoch: number
  access_token_id_hash: string | null
}

export interface GuestSessionRow {
  session_hash: string
  app_id: string
  created_at: number
  expires_at: number
}

export interface AccessTokenRow {
  id_hash: string
  app_id: string
  account_id: number
  created_at: number
  revoked_at: number | null
  epoch: number
}

export interface SigningKeyRow {
  kid: string
  secret: string
  created_at: number
  retired_at: number | null
}

export interface WebSessionRow {
  session_hash: string
  account_id: number
  created_at: number
  expires_at: number
  epoch: number
  /** Shown on the account page only: not part of the record, nor of a copy. */
  last_used_at: number | null
}

/** A row of the account page's credential list (`listAccountCredentials`). */
export interface AccountCredentialRow {
  kind: CredentialKind
  hash: string
  app_name: string | null
  created_at: number
  expires_at: number | null
  last_used_at: number | null
}

export interface PasswordResetTokenRow {
  token_hash: string
  account_id: number
  created_at: number
  expires_at: number
  used_at: number | null
}

const flag = (value: Flag): boolean => value === true || value === 1

export function toApplication(row: ApplicationRow): ApplicationRecord {
  const redirectOrigins = JSON.parse(row.redirect_origins) as string[]
  return { id: row.id, name: row.name, apiKeyHash: row.api_key_hash, suspended: flag(row.suspended), createdAt: row.created_at, redirectOrigins }
}

export function toAccount(row: AccountRow): AccountRecord {
  return {
    id: row.id,
    objectId: row.object_id,
    username: row.username,
    name: row.name,
    email: row.email,
    language: row.language,
    country: row.country,
    includeAdult: flag(row.include_adult),
    passwordHash: row.password_hash,
    disabled: flag(row.disabled),
    createdAt: row.created_at,
    epoch: row.epoch,
  }
}

export function toRequestToken(row: RequestTokenRow): RequestTokenRecord {
  return {
    tokenHash: row.token_hash,
    appId: row.app_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    status: row.status,
    accountId: row.account_id,
    consumedAt: row.consumed_at,
    epoch: row.epoch,
  }
}

export function toV4RequestToken(row: V4RequestTokenRow): V4RequestTokenRecord {
  return {
    idHash: row.id_hash,
    appId: row.app_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    redirectTo: row.redirect_to,
    status: row.status,
    accountId: row.account_id,
    consumedAt: row.consumed_at,
    epoch: row.epoch,
  }
}

export function toSession(row: SessionRow): SessionRecord {
  return {
    sessionHash: row.session_hash,
    appId: row.app_id,
    accountId: row.account_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    epoch: row.epoch,
    accessTokenIdHash: row.access_token_id_hash,
  }
}

export function toSessionWithAccount(row: SessionWithAccountRow): { session: SessionRecord; account: AccountRecord } {
  return {
    session: toSession({ ...row, created_at: row.session_created_at, epoch: row.session_epoch }),
    account: toAccount(row),
  }
}

export function toGuestSession(row: GuestSessionRow): GuestSessionRecord {
  return { sessionHash: row.session_hash, appId: row.app_id, createdAt: row.created_at, expiresAt: row.expires_at }
}

export function toAccessToken(row: AccessTokenRow): AccessTokenRecord {
  return { idHash: row.id_hash, appId: row.app_id, accountId: row.account_id, createdAt: row.created_at, revokedAt: row.revoked_at, epoch: row.epoch }
}

export function toSigningKey(row: SigningKeyRow): SigningKeyRecord {
  return { kid: row.kid, secret: row.secret, createdAt: row.created_at, retiredAt: row.retired_at }
}

export function toWebSession(row: WebSessionRow): WebSessionRecord {
  return { sessionHash: row.session_hash, accountId: row.account_id, createdAt: row.created_at, expiresAt: row.expires_at, epoch: row.epoch }
}

export function toAccountCredential(row: AccountCredentialRow): AccountCredential {
  return {
    kind: row.kind,
    hash: row.hash,
    appName: row.app_name,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
  }
}

export function toPasswordResetToken(row: PasswordResetTokenRow): PasswordResetTokenRecord {
  return { tokenHash: row.token_hash, accountId: row.account_id, createdAt: row.created_at, expiresAt: row.expires_at, usedAt: row.used_at }
}

/** `map(row)`, or null when there is no row. */
export function mapped<R, T>(row: R | undefined, map: (row: R) => T): T | null {
  return row === undefined ? null : map(row)
}
