import type { ApproveInput, ConsumeResult, IssuedRequestToken, RequestTokenRecord, SessionRecord } from '../../core/store.js'
import { whyNotConsumable } from '../../core/store.js'
import { get, run, type Work } from './queryable.js'
import { mapped, toRequestToken, toV4RequestToken, type RequestTokenRow, type V4RequestTokenRow } from './rows.js'
import { accountStillAt, insertSession } from './sessions.js'
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
    ['epoch', 'integer'],
  ],
  values: (t) => [t.tokenHash, t.appId, t.createdAt, t.expiresAt, t.status, t.accountId, t.consumedAt, t.epoch],
}

const INSERT = insertSql(REQUEST_TOKENS)

/**
 * A decision on a verified token in one statement: its first row, stored with the decision when it
 * has none (and is unexpired), or else `update` (`SET … WHERE <guard>`, the conflicting row named by
 * the table, the new one by `excluded`) on the row it has. Returns the row written, if any. Racing
 * upserts of one key are serialised by its primary key (PostgreSQL's ON CONFLICT re-checks the guard
 * against the row a racer committed), so the guard decides the one winner as for a stored row.
 * With `accountGuarded` (an approval), the statement writes nothing, neither row nor update, unless
 * the approving account still has the epoch the new row carries and is not disabled: the new row is
 * selected from that account's row.
 * Parameters: the new row's values, then (with `accountGuarded`) the account's id and epoch, its
 * expiry, `now`, then `update`'s.
 */
export function decisionUpsertSql(table: Table<never>, update: string, accountGuarded = false): string {
  const names = table.columns.map(([name]) => name).join(', ')
  // Typed casts: PostgreSQL takes an untyped parameter of a SELECT list for text.
  const values = table.columns.map(([, type]) => `CAST(? AS ${type})`).join(', ')
  const from = accountGuarded ? 'FROM accounts a WHERE a.id = ? AND a.epoch = ? AND NOT a.disabled AND' : 'WHERE'
  return `INSERT INTO ${table.name} (${names}) SELECT ${values} ${from} CAST(? AS bigint) > CAST(? AS bigint)
    ON CONFLICT (${table.key}) DO UPDATE SET ${update} RETURNING *`
}

/** What a person decided on a token: an approval carries the account and its credentials epoch. */
export type Decision = { status: 'approved'; accountId: number; epoch: number } | { status: 'denied' }

/**
 * The approve and deny upserts of a request-token table (`decisionUpsertSql`). Their guards are the
 * approve and deny of a stored row; an approval also records the epoch, checked on the account both
 * for a new row and on the existing one. With `sameApplication`, an approval must name the token's
 * application (v3's `validate_with_login`; a v4 token is approved on the website, for any).
 */
export function decisionStatements(table: Table<never>, sameApplication: boolean): { approve: string; deny: string } {
  const t = table.name
  const live = `${t}.consumed_at IS NULL AND ${t}.expires_at > ?`
  return {
    approve: decisionUpsertSql(
      table,
      `status = 'approved', account_id = excluded.account_id, epoch = excluded.epoch
   WHERE ${live}${sameApplication ? ` AND ${t}.app_id = excluded.app_id` : ''}
     AND (${t}.status = 'pending' OR (${t}.status = 'approved' AND ${t}.account_id = excluded.account_id))
     AND ${accountStillAt('excluded.account_id', 'excluded.epoch')}`,
      true,
    ),
    deny: decisionUpsertSql(table, `status = 'denied' WHERE ${live} AND ${t}.status = 'pending'`),
  }
}

/**
 * Runs one of `decisionStatements` for a verified token: `fresh` makes the row the token gets when it
 * has none, from the decision's fields; the statement returns the row written, if any.
 */
export function* decideIssued<R, Row>(
  table: Table<R>,
  sql: string,
  decision: Decision,
  expiresAt: number,
  now: number,
  fresh: (decided: Pick<RequestTokenRecord, 'status' | 'accountId' | 'consumedAt' | 'epoch'>) => R,
  toRecord: (row: Row) => R,
): Work<R | null> {
  const approval = decision.status === 'approved' ? decision : null
  const row = fresh({ status: decision.status, accountId: approval?.accountId ?? null, consumedAt: null, epoch: approval?.epoch ?? null })
  const guard = approval ? [approval.accountId, approval.epoch] : []
  return mapped(yield* get<Row>(sql, ...table.values(row), ...guard, expiresAt, now, now), toRecord)
}

const DECISIONS = decisionStatements(REQUEST_TOKENS, true)

/** A decision on a verified v3 token (see `decideIssued`). */
function decideIssuedToken(sql: string, tokenHash: string, issued: IssuedRequestToken, decision: Decision, now: number): Work<RequestTokenRecord | null> {
  return decideIssued(REQUEST_TOKENS, sql, decision, issued.expiresAt, now, (decided) => ({ tokenHash, ...issued, ...decided }), toRequestToken)
}

export function* insertRequestToken(token: RequestTokenRecord): Work<void> {
  yield* run(INSERT, ...REQUEST_TOKENS.values(token))
}

export function* findRequestToken(tokenHash: string): Work<RequestTokenRecord | null> {
  return mapped(yield* get<RequestTokenRow>('SELECT * FROM request_tokens WHERE token_hash = ?', tokenHash), toRequestToken)
}

export function* approveRequestToken(input: ApproveInput): Work<RequestTokenRecord | null> {
  if (input.issued) {
    const approval = { status: 'approved' as const, accountId: input.accountId, epoch: input.epoch }
    return yield* decideIssuedToken(DECISIONS.approve, input.tokenHash, input.issued, approval, input.now)
  }
  const appId = input.appId ?? null
  const row = yield* get<RequestTokenRow>(
    `UPDATE request_tokens SET status = 'approved', account_id = ?, epoch = ?
     WHERE token_hash = ? AND consumed_at IS NULL AND expires_at > ? AND (CAST(? AS TEXT) IS NULL OR app_id = ?)
       AND (status = 'pending' OR (status = 'approved' AND account_id = ?)) AND ${accountStillAt('?', '?')}
     RETURNING *`,
    input.accountId,
    input.epoch,
    input.tokenHash,
    input.now,
    appId,
    appId,
    input.accountId,
    input.accountId,
    input.epoch,
  )
  return mapped(row, toRequestToken)
}

export function* denyRequestToken(tokenHash: string, now: number, issued?: IssuedRequestToken): Work<RequestTokenRecord | null> {
  if (issued) return yield* decideIssuedToken(DECISIONS.deny, tokenHash, issued, { status: 'denied' }, now)
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
 * application, was approved, is unconsumed and unexpired, and its account still has the epoch it
 * was approved under and is not disabled. `token` prefixes the columns (a table name or alias and a
 * dot); `appId` and `now` are SQL expressions (a placeholder, or a column of a batch).
 */
export function consumableWhere(token: string, appId: string, now: string): string {
  return `${token}app_id = ${appId} AND ${token}status = 'approved' AND ${token}consumed_at IS NULL AND ${token}expires_at > ${now}
    AND ${accountStillAt(`${token}account_id`, `${token}epoch`)}`
}

/** The same rule on a token already read, all but the account's part (the account is not read here). */
export function isConsumable(token: { appId: string; status: string; consumedAt: number | null; expiresAt: number }, appId: string, now: number): boolean {
  return token.appId === appId && token.status === 'approved' && token.consumedAt === null && token.expiresAt > now
}

const CONSUME = {
  request_tokens: `UPDATE request_tokens SET consumed_at = ? WHERE token_hash = ? AND ${consumableWhere('request_tokens.', '?', '?')} RETURNING account_id, epoch`,
  v4_request_tokens: `UPDATE v4_request_tokens SET consumed_at = ? WHERE id_hash = ? AND ${consumableWhere('v4_request_tokens.', '?', '?')} RETURNING account_id, epoch`,
}

/**
 * Marks a consumable token consumed, inside the caller's transaction, in one guarded UPDATE whose
 * row count decides the one winner of racing callers (on PostgreSQL a racer waits for the row lock,
 * re-checks the guard and finds the token consumed). On success, the epoch the token was approved
 * under (what the credential made from it carries); on failure, says why.
 */
export function* consumeApproved(
  table: 'request_tokens' | 'v4_request_tokens',
  hash: string,
  appId: string,
  now: number,
): Work<{ ok: true; accountId: number; epoch: number } | (ConsumeResult & { ok: false })> {
  const consumed = yield* get<{ account_id: number; epoch: number }>(CONSUME[table], now, hash, appId, now)
  if (consumed) return { ok: true, accountId: consumed.account_id, epoch: consumed.epoch }
  const token =
    table === 'request_tokens'
      ? mapped(yield* get<RequestTokenRow>('SELECT * FROM request_tokens WHERE token_hash = ?', hash), toRequestToken)
      : mapped(yield* get<V4RequestTokenRow>('SELECT * FROM v4_request_tokens WHERE id_hash = ?', hash), toV4RequestToken)
  return { ok: false, reason: whyNotConsumable(token, appId, now) }
}

/** Runs in one transaction: the token consumed and the session stored, or neither. */
export function* createSessionFromRequestToken(
  tokenHash: string,
  appId: string,
  now: number,
  session: Omit<SessionRecord, 'accountId' | 'epoch' | 'accessTokenIdHash'>,
): Work<ConsumeResult> {
  const result = yield* consumeApproved('request_tokens', tokenHash, appId, now)
  if (!result.ok) return result
  yield* insertSession({ ...session, accountId: result.accountId, epoch: result.epoch, accessTokenIdHash: null })
  return { ok: true, accountId: result.accountId }
}
