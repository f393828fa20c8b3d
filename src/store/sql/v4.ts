import type { AccessTokenRecord, ConsumeResult, IssuedV4RequestToken, V4RequestTokenRecord } from '../../core/store.js'
import { get, run, type Work } from './queryable.js'
import { consumeApproved, decisionUpsertSql } from './request-tokens.js'
import { accountStillAt } from './sessions.js'
import { mapped, toAccessToken, toV4RequestToken, type AccessTokenRow, type V4RequestTokenRow } from './rows.js'
import { insertSql, type Table } from './table.js'

export const V4_REQUEST_TOKENS: Table<V4RequestTokenRecord> = {
  name: 'v4_request_tokens',
  key: 'id_hash',
  columns: [
    ['id_hash', 'text'],
    ['app_id', 'text'],
    ['created_at', 'bigint'],
    ['expires_at', 'bigint'],
    ['redirect_to', 'text'],
    ['status', 'text'],
    ['account_id', 'integer'],
    ['consumed_at', 'bigint'],
    ['epoch', 'integer'],
  ],
  values: (t) => [t.idHash, t.appId, t.createdAt, t.expiresAt, t.redirectTo, t.status, t.accountId, t.consumedAt, t.epoch],
}

export const ACCESS_TOKENS: Table<AccessTokenRecord> = {
  name: 'access_tokens',
  key: 'id_hash',
  columns: [
    ['id_hash', 'text'],
    ['app_id', 'text'],
    ['account_id', 'integer'],
    ['created_at', 'bigint'],
    ['revoked_at', 'bigint'],
    ['epoch', 'integer'],
  ],
  values: (t) => [t.idHash, t.appId, t.accountId, t.createdAt, t.revokedAt, t.epoch],
}

const INSERT_REQUEST_TOKEN = insertSql(V4_REQUEST_TOKENS)
const INSERT_ACCESS_TOKEN = insertSql(ACCESS_TOKENS)

// The guards are today's approve and deny, on the row a token already has (an approval's also on
// the account, for a new row and the existing one: see decisionUpsertSql).
const APPROVE_ISSUED = decisionUpsertSql(
  V4_REQUEST_TOKENS,
  `status = 'approved', account_id = excluded.account_id, epoch = excluded.epoch
   WHERE v4_request_tokens.consumed_at IS NULL AND v4_request_tokens.expires_at > ?
     AND (v4_request_tokens.status = 'pending' OR (v4_request_tokens.status = 'approved' AND v4_request_tokens.account_id = excluded.account_id))
     AND ${accountStillAt('excluded.account_id', 'excluded.epoch')}`,
  true,
)
const DENY_ISSUED = decisionUpsertSql(
  V4_REQUEST_TOKENS,
  `status = 'denied' WHERE v4_request_tokens.consumed_at IS NULL AND v4_request_tokens.expires_at > ? AND v4_request_tokens.status = 'pending'`,
)

/** The row a decision on a verified token stores when it has none; `epoch` is an approval's (null for a denial). */
function* decideIssued(
  sql: string,
  idHash: string,
  issued: IssuedV4RequestToken,
  decision: { status: 'approved'; accountId: number; epoch: number } | { status: 'denied' },
  now: number,
): Work<V4RequestTokenRecord | null> {
  const approval = decision.status === 'approved' ? decision : null
  const row: V4RequestTokenRecord = {
    idHash,
    ...issued,
    status: decision.status,
    accountId: approval?.accountId ?? null,
    consumedAt: null,
    epoch: approval?.epoch ?? null,
  }
  const guard = approval ? [approval.accountId, approval.epoch] : []
  return mapped(yield* get<V4RequestTokenRow>(sql, ...V4_REQUEST_TOKENS.values(row), ...guard, issued.expiresAt, now, now), toV4RequestToken)
}

export function* insertV4RequestToken(token: V4RequestTokenRecord): Work<void> {
  yield* run(INSERT_REQUEST_TOKEN, ...V4_REQUEST_TOKENS.values(token))
}

export function* findV4RequestToken(idHash: string): Work<V4RequestTokenRecord | null> {
  return mapped(yield* get<V4RequestTokenRow>('SELECT * FROM v4_request_tokens WHERE id_hash = ?', idHash), toV4RequestToken)
}

export function* approveV4RequestToken(
  idHash: string,
  accountId: number,
  now: number,
  epoch: number,
  issued?: IssuedV4RequestToken,
): Work<V4RequestTokenRecord | null> {
  if (issued) return yield* decideIssued(APPROVE_ISSUED, idHash, issued, { status: 'approved', accountId, epoch }, now)
  const row = yield* get<V4RequestTokenRow>(
    `UPDATE v4_request_tokens SET status = 'approved', account_id = ?, epoch = ?
     WHERE id_hash = ? AND consumed_at IS NULL AND expires_at > ?
       AND (status = 'pending' OR (status = 'approved' AND account_id = ?)) AND ${accountStillAt('?', '?')}
     RETURNING *`,
    accountId,
    epoch,
    idHash,
    now,
    accountId,
    accountId,
    epoch,
  )
  return mapped(row, toV4RequestToken)
}

export function* denyV4RequestToken(idHash: string, now: number, issued?: IssuedV4RequestToken): Work<V4RequestTokenRecord | null> {
  if (issued) return yield* decideIssued(DENY_ISSUED, idHash, issued, { status: 'denied' }, now)
  const row = yield* get<V4RequestTokenRow>(
    `UPDATE v4_request_tokens SET status = 'denied'
     WHERE id_hash = ? AND consumed_at IS NULL AND expires_at > ? AND status = 'pending' RETURNING *`,
    idHash,
    now,
  )
  return mapped(row, toV4RequestToken)
}

/** Runs in one transaction: the token consumed and the access token stored, or neither. */
export function* createAccessTokenFromRequestToken(
  idHash: string,
  appId: string,
  now: number,
  accessToken: Omit<AccessTokenRecord, 'accountId' | 'epoch'>,
): Work<ConsumeResult> {
  const result = yield* consumeApproved('v4_request_tokens', idHash, appId, now)
  if (!result.ok) return result
  yield* run(INSERT_ACCESS_TOKEN, ...ACCESS_TOKENS.values({ ...accessToken, accountId: result.accountId, epoch: result.epoch }))
  return { ok: true, accountId: result.accountId }
}

export function* findAccessToken(idHash: string): Work<AccessTokenRecord | null> {
  return mapped(yield* get<AccessTokenRow>('SELECT * FROM access_tokens WHERE id_hash = ?', idHash), toAccessToken)
}

/** Runs in one transaction: the token revoked and the sessions converted from it deleted, or neither. */
export function* revokeAccessToken(idHash: string, appId: string, now: number): Work<boolean> {
  const revoked = (yield* run('UPDATE access_tokens SET revoked_at = ? WHERE id_hash = ? AND app_id = ? AND revoked_at IS NULL', now, idHash, appId)) === 1
  if (revoked) yield* run('DELETE FROM sessions WHERE access_token_id_hash = ?', idHash)
  return revoked
}
