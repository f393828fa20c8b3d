import type { LiveCounts } from '../../core/store.js'
import { get, run, type Work } from './queryable.js'
import type { MetaRow } from './rows.js'
import type { Table } from './table.js'

export const META: Table<MetaRow> = {
  name: 'meta',
  key: 'key',
  columns: [
    ['key', 'text'],
    ['value', 'text'],
  ],
  values: (m) => [m.key, m.value],
}

export function* getMeta(key: string): Work<string | null> {
  return (yield* get<Pick<MetaRow, 'value'>>('SELECT value FROM meta WHERE key = ?', key))?.value ?? null
}

export function* setMetaIfAbsent(key: string, value: string): Work<boolean> {
  return (yield* run('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING', key, value)) === 1
}

/** The highest applied migration version (0 before the first). */
export function* schemaVersion(): Work<number> {
  return (yield* get<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations'))?.v ?? 0
}

export function* ping(): Work<void> {
  yield* get('SELECT 1')
}

export function* countLive(now: number): Work<LiveCounts> {
  // One statement, so the four counts come from one snapshot.
  const row = yield* get<{ request_tokens: number; sessions: number; guest_sessions: number; access_tokens: number }>(
    `SELECT (SELECT count(*) FROM request_tokens WHERE expires_at > ? AND consumed_at IS NULL) AS request_tokens,
            (SELECT count(*) FROM sessions WHERE expires_at IS NULL OR expires_at > ?) AS sessions,
            (SELECT count(*) FROM guest_sessions WHERE expires_at > ?) AS guest_sessions,
            (SELECT count(*) FROM access_tokens WHERE revoked_at IS NULL) AS access_tokens`,
    now,
    now,
    now,
  )
  return {
    requestTokens: row?.request_tokens ?? 0,
    sessions: row?.sessions ?? 0,
    guestSessions: row?.guest_sessions ?? 0,
    accessTokens: row?.access_tokens ?? 0,
  }
}
