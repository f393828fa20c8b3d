import type { GuestSessionRecord } from '../../core/store.js'
import { get, run, type Work } from './queryable.js'
import { mapped, toGuestSession, type GuestSessionRow } from './rows.js'
import { insertSql, type Table } from './table.js'

export const GUEST_SESSIONS: Table<GuestSessionRecord> = {
  name: 'guest_sessions',
  key: 'session_hash',
  columns: [
    ['session_hash', 'text'],
    ['app_id', 'text'],
    ['created_at', 'bigint'],
    ['expires_at', 'bigint'],
  ],
  values: (s) => [s.sessionHash, s.appId, s.createdAt, s.expiresAt],
}

const INSERT = insertSql(GUEST_SESSIONS)

export function* insertGuestSession(session: GuestSessionRecord): Work<void> {
  yield* run(INSERT, ...GUEST_SESSIONS.values(session))
}

export function* findGuestSession(sessionHash: string): Work<GuestSessionRecord | null> {
  return mapped(yield* get<GuestSessionRow>('SELECT * FROM guest_sessions WHERE session_hash = ?', sessionHash), toGuestSession)
}
