import type { SessionRecord } from '../../core/store.js'
import { get, run, type Work } from './queryable.js'
import { mapped, toSession, type SessionRow } from './rows.js'
import { insertSql, type Table } from './table.js'

export const SESSIONS: Table<SessionRecord> = {
  name: 'sessions',
  key: 'session_hash',
  columns: [
    ['session_hash', 'text'],
    ['app_id', 'text'],
    ['account_id', 'integer'],
    ['created_at', 'bigint'],
    ['expires_at', 'bigint'],
    ['epoch', 'integer'],
    ['access_token_id_hash', 'text'],
  ],
  values: (s) => [s.sessionHash, s.appId, s.accountId, s.createdAt, s.expiresAt, s.epoch, s.accessTokenIdHash],
}

const INSERT = insertSql(SESSIONS)

export function* insertSession(session: SessionRecord): Work<void> {
  yield* run(INSERT, ...SESSIONS.values(session))
}

export function* findSession(sessionHash: string): Work<SessionRecord | null> {
  return mapped(yield* get<SessionRow>('SELECT * FROM sessions WHERE session_hash = ?', sessionHash), toSession)
}

/**
 * The condition "the account `accountId` still has `epoch` and is not disabled", for the guarded
 * writes of credentials. Both are SQL expressions (a placeholder, or a column of the statement's
 * own rows, named with its table).
 */
export function accountStillAt(accountId: string, epoch: string): string {
  return `EXISTS (SELECT 1 FROM accounts a WHERE a.id = ${accountId} AND a.epoch = ${epoch} AND NOT a.disabled)`
}

const FROM_ACCESS_TOKEN = `INSERT INTO sessions (session_hash, app_id, account_id, created_at, expires_at, epoch, access_token_id_hash)
  SELECT CAST(? AS TEXT), t.app_id, t.account_id, CAST(? AS BIGINT), CAST(? AS BIGINT), t.epoch, t.id_hash
  FROM access_tokens t
  WHERE t.id_hash = ? AND t.app_id = ? AND t.revoked_at IS NULL AND ${accountStillAt('t.account_id', 't.epoch')}
  RETURNING account_id`

/** See `Store.createSessionFromAccessToken`: one guarded statement. */
export function* createSessionFromAccessToken(
  accessTokenIdHash: string,
  session: Omit<SessionRecord, 'accountId' | 'epoch' | 'accessTokenIdHash'>,
): Work<number | null> {
  const row = yield* get<{ account_id: number }>(FROM_ACCESS_TOKEN, session.sessionHash, session.createdAt, session.expiresAt, accessTokenIdHash, session.appId)
  return row?.account_id ?? null
}

export function* deleteSession(sessionHash: string, appId: string): Work<boolean> {
  return (yield* run('DELETE FROM sessions WHERE session_hash = ? AND app_id = ?', sessionHash, appId)) === 1
}

/**
 * The session checks' one statement (`SessionWithAccountRow`): the sessions whose hash is among a
 * list (`sessionHashIn` says how the dialect takes one), each joined to its account. The session's
 * columns come under their own names, the account's as in `accounts`; the session's `created_at` and
 * `epoch` are renamed so the two do not collide.
 */
export function sessionsWithAccountsSql(sessionHashIn: string): string {
  return `SELECT a.*, s.session_hash, s.app_id, s.account_id, s.created_at AS session_created_at, s.expires_at, s.epoch AS session_epoch,
      s.access_token_id_hash
    FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.session_hash ${sessionHashIn}`
}
