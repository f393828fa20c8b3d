import type { SigningKeyRecord } from '../../core/store.js'
import { all, run, type Work } from './queryable.js'
import { toSigningKey, type SigningKeyRow } from './rows.js'
import { insertSql, type Table } from './table.js'

export const SIGNING_KEYS: Table<SigningKeyRecord> = {
  name: 'signing_keys',
  key: 'kid',
  columns: [
    ['kid', 'text'],
    ['secret', 'text'],
    ['created_at', 'bigint'],
    ['retired_at', 'bigint'],
  ],
  values: (k) => [k.kid, k.secret, k.createdAt, k.retiredAt],
}

const INSERT = insertSql(SIGNING_KEYS)

export function* listSigningKeys(): Work<SigningKeyRecord[]> {
  return (yield* all<SigningKeyRow>('SELECT * FROM signing_keys ORDER BY created_at, kid')).map(toSigningKey)
}

export function* insertSigningKey(key: SigningKeyRecord): Work<void> {
  yield* run(INSERT, ...SIGNING_KEYS.values(key))
}

export function* retireSigningKey(kid: string, now: number): Work<boolean> {
  return (yield* run('UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL', now, kid)) === 1
}
