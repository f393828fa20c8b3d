import type { ApproveInput, ConsumeResult, IssuedRequestToken, RequestTokenRecord, SessionRecord } from '../../core/store.js'
import { whyNotConsumable } from '../../core/store.js'
import { get, run, type Work } from './queryable.js'
import { mapped, toRequestToken, toV4RequestToken, type RequestTokenRow, type V4RequestTokenRow } from './rows.js'
import { insertSession } from './sessions.js'
import { insertSql, type Table } from './table.js'

export const REQUEST_TOKENS: Table<RequestTokenRecord> = {
  name: 'request_tokens',
  key: 'token_hash',
  columns: [
    ['token_hash', 'text'],
    ['app_id', 'text'],
    ['created_at', 'bigint'],
    ['expires_at', 'bigint'],
    ['status', 'text'],
    ['account_id', 'integer'],
    ['consumed_at', 'bigint'],
  ],
  values: (t) => [t.tokenHash, t.appId, t.createdAt, t.expiresAt, t.status, t.accountId, t.consumedAt],
}

const INSERT = insertSql(REQUEST_TOKENS)

/**
 * A decision on a verified token in one statement: its first row, stored with the decision when it
 * has none (and is unexpired), or else `update` (`SET … WHERE <guard>`, the conflicting row named by
 * the table, the new one by `excluded`) on the row it has. Returns the row written, if any. Racing
 * upserts of one key are serialised by its primary key (PostgreSQL's ON CONFLICT re-checks the guard
 * against the row a racer committed), so the guard decides the one winner as for a stored row.
 * Parameters: the new row's values, its expiry, `now`, then `update`'s.
 */
export function decisionUpsertSql(table: Table<never>, update: string): string {
  const names = table.columns.map(([name]) => name).join(', ')
  // Typed casts: PostgreSQL takes an untyped parameter of a SELECT list for text.
  const values = table.columns.map(([, type]) => `CAST(? AS ${type})`).join(', ')
  return `INSERT INTO ${table.name} (${names}) SELECT ${values} WHERE CAST(? AS bigint) > CAST(? AS bigint)
    ON CONFLICT (${table.key}) DO UPDATE SET ${update} RETURNING *`
}

// The guards are today's approve and deny, on the row a token already has.
const APPROVE_ISSUED = decisionUpsertSql(
  REQUEST_TOKENS,
  `status = 'approved', account_id = excluded.account_id
   WHERE request_tokens.consumed_at IS NULL AND request_tokens.expires_at > ? AND request_tokens.app_id = excluded.app_id
     AND (request_tokens.status = 'pending' OR (request_tokens.status = 'approved' AND request_tokens.account_id = excluded.account_id))`,
)
const DENY_ISSUED = decisionUpsertSql(
  REQUEST_TOKENS,
  `status = 'denied' WHERE request_tokens.consumed_at IS NULL AND request_tokens.expires_at > ? AND request_tokens.status = 'pending'`,
)

function* decideIssued(sql: string, tokenHash: string, issued: IssuedRequestToken, decision: 'approved' | 'denied', accountId: number | null, now: number): Work<RequestTokenRecord | null> {
  const row: RequestTokenRecord = { tokenHash, ...issued, status: decision, accountId, consumedAt: null }
  return mapped(yield* get<RequestTokenRow>(sql, ...REQUEST_TOKENS.values(row), issued.expiresAt, now, now), toRequestToken)
}

export function* insertRequestToken(token: RequestTokenRecord): Work<void> {
  yield* run(INSERT, ...REQUEST_TOKENS.values(token))
}

export function* findRequestToken(tokenHash: string): Work<RequestTokenRecord | null> {
  return mapped(yield* get<RequestTokenRow>('SELECT * FROM request_tokens WHERE token_hash = ?', tokenHash), toRequestToken)
}

export function* approveRequestToken(input: ApproveInput): Work<RequestTokenRecord | null> {
  if (input.issued) return yield* decideIssued(APPROVE_ISSUED, input.tokenHash, input.issued, 'approved', input.accountId, input.now)
  const appId = input.appId ?? null
  const row = yield* get<RequestTokenRow>(
    `UPDATE request_tokens SET status = 'approved', account_id = ?
     WHERE token_hash = ? AND consumed_at IS NULL AND expires_at > ? AND (CAST(? AS TEXT) IS NULL OR app_id = ?)
       AND (status = 'pending' OR (status = 'approved' AND account_id = ?))
     RETURNING *`,
    input.accountId,
    input.tokenHash,
    input.now,
    appId,
    appId,
    input.accountId,
  )
  return mapped(row, toRequestToken)
}

export function* denyRequestToken(tokenHash: string, now: number, issued?: IssuedRequestToken): Work<RequestTokenRecord | null> {
  if (issued) return yield* decideIssued(DENY_ISSUED, tokenHash, issued, 'denied', null, now)
  const row = yield* get<RequestTokenRow>(
    `UPDATE request_tokens SET status = 'denied'
     WHERE token_hash = ? AND consumed_at IS NULL AND expires_at > ? AND status = 'pending' RETURNING *`,
    tokenHash,
    now,
  )
  return mapped(row, toRequestToken)
}

/**
 * The rule for consuming a request token (v3 or v4), as a condition on its row: it belongs to the
 * application, was approved, is unconsumed and unexpired. `token` prefixes the columns (a table
 * alias, or nothing); `appId` and `now` are SQL expressions (a placeholder, or a column of a batch).
 */
export function consumableWhere(token: string, appId: string, now: string): string {
  return `${token}app_id = ${appId} AND ${token}status = 'approved' AND ${token}consumed_at IS NULL AND ${token}expires_at > ${now}`
}

/** The same rule, on a token already read. */
export function isConsumable(token: { appId: string; status: string; consumedAt: number | null; expiresAt: number }, appId: string, now: number): boolean {
  return token.appId === appId && token.status === 'approved' && token.consumedAt === null && token.expiresAt > now
}

const CONSUMABLE = consumableWhere('', '?', '?')
const CONSUME = {
  request_tokens: `UPDATE request_tokens SET consumed_at = ? WHERE token_hash = ? AND ${CONSUMABLE} RETURNING account_id`,
  v4_request_tokens: `UPDATE v4_request_tokens SET consumed_at = ? WHERE id_hash = ? AND ${CONSUMABLE} RETURNING account_id`,
}

/**
 * Marks a consumable token consumed, inside the caller's transaction, in one guarded UPDATE whose
 * row count decides the one winner of racing callers (on PostgreSQL a racer waits for the row lock,
 * re-checks the guard and finds the token consumed). On failure, says why.
 */
export function* consumeApproved(table: 'request_tokens' | 'v4_request_tokens', hash: string, appId: string, now: number): Work<ConsumeResult> {
  const consumed = yield* get<{ account_id: number }>(CONSUME[table], now, hash, appId, now)
  if (consumed) return { ok: true, accountId: consumed.account_id }
  const token =
    table === 'request_tokens'
      ? mapped(yield* get<RequestTokenRow>('SELECT * FROM request_tokens WHERE token_hash = ?', hash), toRequestToken)
      : mapped(yield* get<V4RequestTokenRow>('SELECT * FROM v4_request_tokens WHERE id_hash = ?', hash), toV4RequestToken)
  return { ok: false, reason: whyNotConsumable(token, appId, now) }
}

/** Runs in one transaction: the token consumed and the session stored, or neither. */
export function* createSessionFromRequestToken(tokenHash: string, appId: string, now: number, session: Omit<SessionRecord, 'accountId'>): Work<ConsumeResult> {
  const result = yield* consumeApproved('request_tokens', tokenHash, appId, now)
  if (result.ok) yield* insertSession({ ...session, accountId: result.accountId })
  return result
}
