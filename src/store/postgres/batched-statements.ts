import type { ConsumeResult, SessionRecord } from '../../core/store.js'
import { whyNotConsumable } from '../../core/store.js'
import { consumableWhere, isConsumable } from '../sql/request-tokens.js'
import { mapped, toRequestToken, type RequestTokenRow } from '../sql/rows.js'
import { accountStillAt } from '../sql/sessions.js'
import type { Table } from '../sql/table.js'

// The statements of PostgreSQL's group commits: many callers' rows in one statement, passed as one
// array per column and turned back into rows by unnest.

/** `INSERT … SELECT * FROM unnest($1::type[], …)`: a batch of rows of `table`, one array per column. */
export function unnestInsertSql(table: Table<never>): string {
  const names = table.columns.map(([name]) => name).join(', ')
  return `INSERT INTO ${table.name} (${names}) SELECT * FROM unnest(${table.columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')})`
}

export interface SessionFromToken {
  tokenHash: string
  appId: string
  now: number
  session: Omit<SessionRecord, 'accountId' | 'epoch' | 'accessTokenIdHash'>
}

/** A row of `SESSIONS_FROM_TOKENS`: the token as the statement began (absent when unknown), and whom it was consumed for. */
export type SessionFromTokenRow = Partial<RequestTokenRow> & { batch_key: string; consumed_for: number | null }

// Every caller's token is consumed by the guarded UPDATE (the consume rule, each row with its caller's
// own `now`), and a session is inserted for each token consumed: data-modifying CTEs of one statement,
// so both commit together or not at all. The last SELECT reads the tokens as they were when the
// statement began, which is all a caller whose token was not consumed needs to be told why
// (whyNotConsumable: one a concurrent statement consumed looks approved, and is 'invalid').
export const SESSIONS_FROM_TOKENS = `WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[])
    AS i (token_hash, app_id, now, session_hash, created_at, expires_at)
), consumed AS (
  UPDATE request_tokens t SET consumed_at = i.now
  FROM input i
  WHERE t.token_hash = i.token_hash AND ${consumableWhere('t.', 'i.app_id', 'i.now')}
  RETURNING t.token_hash, t.account_id, t.epoch
), inserted AS (
  INSERT INTO sessions (session_hash, app_id, account_id, created_at, expires_at, epoch)
  SELECT i.session_hash, i.app_id, c.account_id, i.created_at, i.expires_at, c.epoch
  FROM consumed c JOIN input i ON i.token_hash = c.token_hash
)
SELECT t.*, i.token_hash AS batch_key, c.account_id AS consumed_for
FROM input i
LEFT JOIN consumed c ON c.token_hash = i.token_hash
LEFT JOIN request_tokens t ON t.token_hash = i.token_hash`

export function sessionsFromTokensParams(requests: SessionFromToken[]): unknown[] {
  return [
    requests.map((r) => r.tokenHash),
    requests.map((r) => r.appId),
    requests.map((r) => r.now),
    requests.map((r) => r.session.sessionHash),
    requests.map((r) => r.session.createdAt),
    requests.map((r) => r.session.expiresAt),
  ]
}

export function sessionFromTokenOutcome(row: SessionFromTokenRow | undefined, caller: SessionFromToken): ConsumeResult | undefined {
  if (row?.consumed_for !== null && row?.consumed_for !== undefined) return { ok: true, accountId: row.consumed_for }
  // No request_tokens columns (t.*) when the token does not exist.
  const token = mapped(row && isTokenRow(row) ? row : undefined, toRequestToken)
  // Consumable as the statement began (as far as the token's own row tells), yet not consumed: a
  // concurrent transaction changed it while the statement waited for its lock (consumed it, or
  // denied it when its account was disabled), or its account's credentials changed. Only a new
  // statement sees which: the caller runs alone.
  if (token && isConsumable(token, caller.appId, caller.now)) return undefined
  return { ok: false, reason: whyNotConsumable(token, caller.appId, caller.now) }
}

function isTokenRow(row: SessionFromTokenRow): row is SessionFromTokenRow & RequestTokenRow {
  return typeof row.token_hash === 'string'
}

export interface SessionFromAccessToken {
  accessTokenIdHash: string
  session: Omit<SessionRecord, 'accountId' | 'epoch' | 'accessTokenIdHash'>
}

// convert/4's guarded insert (store/sql/sessions.ts) for a batch of callers: each session is stored
// only for a live access token of its application whose account still has the token's epoch.
export const SESSIONS_FROM_ACCESS_TOKENS = `INSERT INTO sessions (session_hash, app_id, account_id, created_at, expires_at, epoch, access_token_id_hash)
  SELECT i.session_hash, t.app_id, t.account_id, i.created_at, i.expires_at, t.epoch, t.id_hash
  FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[]) AS i (session_hash, id_hash, app_id, created_at, expires_at)
  JOIN access_tokens t ON t.id_hash = i.id_hash AND t.app_id = i.app_id AND t.revoked_at IS NULL
  WHERE ${accountStillAt('t.account_id', 't.epoch')}
  RETURNING session_hash AS batch_key, account_id`

export function sessionsFromAccessTokensParams(requests: SessionFromAccessToken[]): unknown[] {
  return [
    requests.map((r) => r.session.sessionHash),
    requests.map((r) => r.accessTokenIdHash),
    requests.map((r) => r.session.appId),
    requests.map((r) => r.session.createdAt),
    requests.map((r) => r.session.expiresAt),
  ]
}

export interface SessionToDelete {
  sessionHash: string
  appId: string
}

export const DELETE_SESSIONS = `DELETE FROM sessions s
  USING unnest($1::text[], $2::text[]) AS d (session_hash, app_id)
  WHERE s.session_hash = d.session_hash AND s.app_id = d.app_id
  RETURNING s.session_hash AS batch_key`

export function deleteSessionsParams(requests: SessionToDelete[]): unknown[] {
  return [requests.map((r) => r.sessionHash), requests.map((r) => r.appId)]
}
