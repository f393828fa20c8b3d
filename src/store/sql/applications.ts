import type { ApplicationRecord } from '../../core/store.js'
import { all, get, run, type Work } from './queryable.js'
import { mapped, toApplication, type ApplicationRow } from './rows.js'
import { insertSql, type Table } from './table.js'

export const APPLICATIONS: Table<ApplicationRecord> = {
  name: 'applications',
  key: 'id',
  columns: [
    ['id', 'text'],
    ['name', 'text'],
    ['api_key_hash', 'text'],
    ['suspended', 'boolean'],
    ['created_at', 'bigint'],
    ['redirect_origins', 'text'],
  ],
  values: (a) => [a.id, a.name, a.apiKeyHash, a.suspended, a.createdAt, JSON.stringify(a.redirectOrigins)],
}

const INSERT = insertSql(APPLICATIONS)

export function* insertApplication(app: ApplicationRecord): Work<void> {
  yield* run(INSERT, ...APPLICATIONS.values(app))
}

export function* findApplicationById(id: string): Work<ApplicationRecord | null> {
  return mapped(yield* get<ApplicationRow>('SELECT * FROM applications WHERE id = ?', id), toApplication)
}

export function* findApplicationByKeyHash(apiKeyHash: string): Work<ApplicationRecord | null> {
  return mapped(yield* get<ApplicationRow>('SELECT * FROM applications WHERE api_key_hash = ?', apiKeyHash), toApplication)
}

export function* listApplications(): Work<ApplicationRecord[]> {
  return (yield* all<ApplicationRow>('SELECT * FROM applications ORDER BY created_at, id')).map(toApplication)
}

export function* setApplicationSuspended(id: string, suspended: boolean): Work<boolean> {
  return (yield* run('UPDATE applications SET suspended = ? WHERE id = ?', suspended, id)) === 1
}

export function* setApplicationKeyHash(id: string, apiKeyHash: string): Work<boolean> {
  return (yield* run('UPDATE applications SET api_key_hash = ? WHERE id = ?', apiKeyHash, id)) === 1
}

/**
 * Runs in one transaction (several statements), the application's row locked first (`forUpdate`, as
 * `deleteAccount` takes it) so that no row naming it can be added meanwhile.
 */
export function* deleteApplication(id: string, forUpdate: string): Work<boolean> {
  if (!(yield* get(`SELECT id FROM applications WHERE id = ?${forUpdate}`, id))) return false
  for (const table of ['sessions', 'guest_sessions', 'access_tokens', 'request_tokens', 'v4_request_tokens']) {
    yield* run(`DELETE FROM ${table} WHERE app_id = ?`, id)
  }
  return (yield* run('DELETE FROM applications WHERE id = ?', id)) === 1
}
