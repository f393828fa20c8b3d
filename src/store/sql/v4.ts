import type { AccessTokenRecord, ConsumeResult, IssuedV4RequestToken, V4RequestTokenRecord } from '../../core/store.js'
import { get, run, type Work } from './queryable.js'
import { consumeApproved, decideIssued, decisionStatements, type Decision } from './request-tokens.js'
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

const DECISIONS = decisionStatements(V4_REQUEST_TOKENS, false)

/** A decision on a verified v4 token (see `decideIssued`). */
function decideIssuedToken(sql: string, idHash: string, issued: IssuedV4RequestToken, decision: Decision, now: number): Work<V4RequestTokenRecord | null> {
  return decideIssued(V4_REQUEST_TOKENS, sql, decision, issued.expiresAt, now, (decided) => ({ idHash, ...issued, ...decided }), toV4RequestToken)
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
  if (issued) return yield* decideIssuedToken(DECISIONS.approve, idHash, issued, { status: 'approved', accountId, epoch }, now)
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
  if (issued) return yield* decideIssuedToken(DECISIONS.deny, idHash, issued, { status: 'denied' }, now)
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
