import type { WebSessionRecord } from '../../core/store.js'
import { get, run, type Work } from './queryable.js'
import { mapped, toWebSession, type WebSessionRow } from './rows.js'
import type { Table } from './table.js'

export const WEB_SESSIONS: Table<WebSessionRecord> = {
  name: 'web_sessions',
  key: 'session_hash',
  columns: [
    ['session_hash', 'text'],
    ['account_id', 'integer'],
    ['created_at', 'bigint'],
    ['expires_at', 'bigint'],
    ['epoch', 'integer'],
  ],
  values: (s) => [s.sessionHash, s.accountId, s.createdAt, s.expiresAt, s.epoch],
}

const INSERT = `INSERT INTO web_sessions (session_hash, account_id, created_at, expires_at, epoch)
  SELECT CAST(? AS TEXT), a.id, CAST(? AS BIGINT), CAST(? AS BIGINT), a.epoch FROM accounts a
  WHERE a.id = ? AND a.epoch = ? AND NOT a.disabled`

/** See `Store.insertWebSession`: one guarded statement. */
export function* insertWebSession(session: WebSessionRecord): Work<boolean> {
  return (yield* run(INSERT, session.sessionHash, session.createdAt, session.expiresAt, session.accountId, session.epoch)) === 1
}

export function* findWebSession(sessionHash: string): Work<WebSessionRecord | null> {
  return mapped(yield* get<WebSessionRow>('SELECT * FROM web_sessions WHERE session_hash = ?', sessionHash), toWebSession)
}

export function* deleteWebSession(sessionHash: string): Work<void> {
  yield* run('DELETE FROM web_sessions WHERE session_hash = ?', sessionHash)
}
