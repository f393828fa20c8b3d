import type { WebSessionRecord } from '../../core/store.js'
import { get, run, type Work } from './queryable.js'
import { mapped, toWebSession, type WebSessionRow } from './rows.js'
import { insertSql, type Table } from './table.js'

export const WEB_SESSIONS: Table<WebSessionRecord> = {
  name: 'web_sessions',
  key: 'session_hash',
  columns: [
    ['session_hash', 'text'],
    ['account_id', 'integer'],
    ['created_at', 'bigint'],
    ['expires_at', 'bigint'],
  ],
  values: (s) => [s.sessionHash, s.accountId, s.createdAt, s.expiresAt],
}

const INSERT = insertSql(WEB_SESSIONS)

export function* insertWebSession(session: WebSessionRecord): Work<void> {
  yield* run(INSERT, ...WEB_SESSIONS.values(session))
}

export function* findWebSession(sessionHash: string): Work<WebSessionRecord | null> {
  return mapped(yield* get<WebSessionRow>('SELECT * FROM web_sessions WHERE session_hash = ?', sessionHash), toWebSession)
}

export function* deleteWebSession(sessionHash: string): Work<void> {
  yield* run('DELETE FROM web_sessions WHERE session_hash = ?', sessionHash)
}
