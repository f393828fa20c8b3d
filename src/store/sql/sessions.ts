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
  ],
  values: (s) => [s.sessionHash, s.appId, s.accountId, s.createdAt, s.expiresAt],
}

const INSERT = insertSql(SESSIONS)

export function* insertSession(session: SessionRecord): Work<void> {
  yield* run(INSERT, ...SESSIONS.values(session))
}

export function* findSession(sessionHash: string): Work<SessionRecord | null> {
  return mapped(yield* get<SessionRow>('SELECT * FROM sessions WHERE session_hash = ?', sessionHash), toSession)
}

export function* deleteSession(sessionHash: string, appId: string): Work<boolean> {
  return (yield* run('DELETE FROM sessions WHERE session_hash = ? AND app_id = ?', sessionHash, appId)) === 1
}

/**
 * The session checks' one statement (`SessionWithAccountRow`): the sessions whose hash is among a
 * list (`sessionHashIn` says how the dialect takes one), each joined to its account. The session's
 * columns come under their own names, the account's as in `accounts`; the session's `created_at` is
 * renamed so the two do not collide.
 */
export function sessionsWithAccountsSql(sessionHashIn: string): string {
  return `SELECT a.*, s.session_hash, s.app_id, s.account_id, s.created_at AS session_created_at, s.expires_at
    FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.session_hash ${sessionHashIn}`
}
