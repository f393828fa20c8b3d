import type {
  AccessTokenRecord,
  AccountRecord,
  ApplicationRecord,
  GuestSessionRecord,
  RequestTokenRecord,
  RequestTokenStatus,
  SessionRecord,
  SigningKeyRecord,
  StoreSnapshot,
  V4RequestTokenRecord,
  WebSessionRecord,
} from '../core/store.js'

/**
 * Row ↔ record mapping shared by the SQL backends. Both use the same tables and column names; they
 * differ only in how a driver hands back flags (SQLite 0/1, PostgreSQL booleans) and 64-bit integers
 * (the PostgreSQL store parses them to numbers before they get here).
 */
export type Row = Record<string, unknown>

const flag = (value: unknown): boolean => value === true || value === 1
const optionalNumber = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value))
const optionalString = (value: unknown): string | null => (value === null || value === undefined ? null : (value as string))

export function toApplication(row: Row | undefined): ApplicationRecord | null {
  if (!row) return null
  return {
    id: row.id as string,
    name: row.name as string,
    apiKeyHash: row.api_key_hash as string,
    suspended: flag(row.suspended),
    createdAt: Number(row.created_at),
    redirectOrigins: JSON.parse(row.redirect_origins as string) as string[],
  }
}

export function toAccount(row: Row | undefined): AccountRecord | null {
  if (!row) return null
  return {
    id: Number(row.id),
    objectId: row.object_id as string,
    username: row.username as string,
    name: row.name as string,
    email: optionalString(row.email),
    language: row.language as string,
    country: row.country as string,
    includeAdult: flag(row.include_adult),
    passwordHash: row.password_hash as string,
    disabled: flag(row.disabled),
    createdAt: Number(row.created_at),
  }
}

export function toRequestToken(row: Row | undefined): RequestTokenRecord | null {
  if (!row) return null
  return {
    tokenHash: row.token_hash as string,
    appId: row.app_id as string,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    status: row.status as RequestTokenStatus,
    accountId: optionalNumber(row.account_id),
    consumedAt: optionalNumber(row.consumed_at),
  }
}

export function toV4RequestToken(row: Row | undefined): V4RequestTokenRecord | null {
  if (!row) return null
  return {
    idHash: row.id_hash as string,
    appId: row.app_id as string,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    redirectTo: optionalString(row.redirect_to),
    status: row.status as RequestTokenStatus,
    accountId: optionalNumber(row.account_id),
    consumedAt: optionalNumber(row.consumed_at),
  }
}

export function toSession(row: Row | undefined): SessionRecord | null {
  if (!row) return null
  return {
    sessionHash: row.session_hash as string,
    appId: row.app_id as string,
    accountId: Number(row.account_id),
    createdAt: Number(row.created_at),
    expiresAt: optionalNumber(row.expires_at),
  }
}

/**
 * The session checks' one statement, in either dialect: the sessions whose hash is among a list
 * (`sessionHashIn` says how the dialect takes one), each joined to its account. The session's columns
 * come under their own names, the account's as in `accounts`; the session's `created_at` is renamed so
 * the two do not collide.
 */
export function sessionsWithAccountsSql(sessionHashIn: string): string {
  return `SELECT a.*, s.session_hash, s.app_id, s.account_id, s.created_at AS session_created_at, s.expires_at
    FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.session_hash ${sessionHashIn}`
}

/** A row of `sessionWithAccountSql` as the session and its account. */
export function toSessionWithAccount(row: Row | undefined): { session: SessionRecord; account: AccountRecord } | null {
  if (!row) return null
  return { session: toSession({ ...row, created_at: row.session_created_at })!, account: toAccount(row)! }
}

export function toGuestSession(row: Row | undefined): GuestSessionRecord | null {
  if (!row) return null
  return { sessionHash: row.session_hash as string, appId: row.app_id as string, createdAt: Number(row.created_at), expiresAt: Number(row.expires_at) }
}

export function toAccessToken(row: Row | undefined): AccessTokenRecord | null {
  if (!row) return null
  return {
    idHash: row.id_hash as string,
    appId: row.app_id as string,
    accountId: Number(row.account_id),
    createdAt: Number(row.created_at),
    revokedAt: optionalNumber(row.revoked_at),
  }
}

export function toSigningKey(row: Row): SigningKeyRecord {
  return { kid: row.kid as string, secret: row.secret as string, createdAt: Number(row.created_at), retiredAt: optionalNumber(row.retired_at) }
}

export function toWebSession(row: Row | undefined): WebSessionRecord | null {
  if (!row) return null
  return { sessionHash: row.session_hash as string, accountId: Number(row.account_id), createdAt: Number(row.created_at), expiresAt: Number(row.expires_at) }
}

/** One table of a snapshot as positional rows, ready for a multi-row INSERT. */
export interface TableRows {
  table: string
  columns: readonly string[]
  rows: unknown[][]
}

/**
 * A snapshot's tables in foreign-key order (parents first: insert in this order, delete in reverse).
 * `flagValue` turns a boolean into what the driver binds (SQLite: 0/1; PostgreSQL: the boolean).
 */
export function snapshotTables(snapshot: StoreSnapshot, flagValue: (value: boolean) => unknown): TableRows[] {
  return [
    { table: 'meta', columns: ['key', 'value'], rows: snapshot.meta.map((m) => [m.key, m.value]) },
    {
      table: 'applications',
      columns: ['id', 'name', 'api_key_hash', 'suspended', 'created_at', 'redirect_origins'],
      rows: snapshot.applications.map((a) => [a.id, a.name, a.apiKeyHash, flagValue(a.suspended), a.createdAt, JSON.stringify(a.redirectOrigins)]),
    },
    {
      table: 'accounts',
      columns: ['id', 'object_id', 'username', 'username_key', 'name', 'email', 'language', 'country', 'include_adult', 'password_hash', 'disabled', 'created_at'],
      rows: snapshot.accounts.map((a) => [
        a.id,
        a.objectId,
        a.username,
        a.username.toLowerCase(),
        a.name,
        a.email,
        a.language,
        a.country,
        flagValue(a.includeAdult),
        a.passwordHash,
        flagValue(a.disabled),
        a.createdAt,
      ]),
    },
    {
      table: 'request_tokens',
      columns: ['token_hash', 'app_id', 'created_at', 'expires_at', 'status', 'account_id', 'consumed_at'],
      rows: snapshot.requestTokens.map((t) => [t.tokenHash, t.appId, t.createdAt, t.expiresAt, t.status, t.accountId, t.consumedAt]),
    },
    {
      table: 'sessions',
      columns: ['session_hash', 'app_id', 'account_id', 'created_at', 'expires_at'],
      rows: snapshot.sessions.map((s) => [s.sessionHash, s.appId, s.accountId, s.createdAt, s.expiresAt]),
    },
    {
      table: 'guest_sessions',
      columns: ['session_hash', 'app_id', 'created_at', 'expires_at'],
      rows: snapshot.guestSessions.map((s) => [s.sessionHash, s.appId, s.createdAt, s.expiresAt]),
    },
    {
      table: 'v4_request_tokens',
      columns: ['id_hash', 'app_id', 'created_at', 'expires_at', 'redirect_to', 'status', 'account_id', 'consumed_at'],
      rows: snapshot.v4RequestTokens.map((t) => [t.idHash, t.appId, t.createdAt, t.expiresAt, t.redirectTo, t.status, t.accountId, t.consumedAt]),
    },
    {
      table: 'access_tokens',
      columns: ['id_hash', 'app_id', 'account_id', 'created_at', 'revoked_at'],
      rows: snapshot.accessTokens.map((t) => [t.idHash, t.appId, t.accountId, t.createdAt, t.revokedAt]),
    },
    {
      table: 'signing_keys',
      columns: ['kid', 'secret', 'created_at', 'retired_at'],
      rows: snapshot.signingKeys.map((k) => [k.kid, k.secret, k.createdAt, k.retiredAt]),
    },
    {
      table: 'web_sessions',
      columns: ['session_hash', 'account_id', 'created_at', 'expires_at'],
      rows: snapshot.webSessions.map((s) => [s.sessionHash, s.accountId, s.createdAt, s.expiresAt]),
    },
  ]
}

/** The tables of a snapshot in foreign-key order, with their primary key (the export order). */
export const SNAPSHOT_TABLES: readonly { table: string; key: string }[] = [
  { table: 'meta', key: 'key' },
  { table: 'applications', key: 'id' },
  { table: 'accounts', key: 'id' },
  { table: 'request_tokens', key: 'token_hash' },
  { table: 'sessions', key: 'session_hash' },
  { table: 'guest_sessions', key: 'session_hash' },
  { table: 'v4_request_tokens', key: 'id_hash' },
  { table: 'access_tokens', key: 'id_hash' },
  { table: 'signing_keys', key: 'kid' },
  { table: 'web_sessions', key: 'session_hash' },
]

/** Builds a snapshot from every table's rows (as `SELECT * … ORDER BY key` returns them). */
export function snapshotFromRows(rowsOf: (table: string) => Row[]): StoreSnapshot {
  const all = <T>(table: string, map: (row: Row) => T | null): T[] => rowsOf(table).map((row) => map(row)!)
  return {
    meta: rowsOf('meta').map((row) => ({ key: row.key as string, value: row.value as string })),
    applications: all('applications', toApplication),
    accounts: all('accounts', toAccount),
    requestTokens: all('request_tokens', toRequestToken),
    sessions: all('sessions', toSession),
    guestSessions: all('guest_sessions', toGuestSession),
    v4RequestTokens: all('v4_request_tokens', toV4RequestToken),
    accessTokens: all('access_tokens', toAccessToken),
    signingKeys: all('signing_keys', toSigningKey),
    webSessions: all('web_sessions', toWebSession),
  }
}
