import type { AccountRecord, NewAccount } from '../../core/store.js'
import { all, get, run, type Work } from './queryable.js'
import { mapped, toAccount, type AccountRow } from './rows.js'
import type { Table } from './table.js'

export const ACCOUNTS: Table<AccountRecord> = {
  name: 'accounts',
  key: 'id',
  columns: [
    ['id', 'integer'],
    ['object_id', 'text'],
    ['username', 'text'],
    ['username_key', 'text'],
    ['name', 'text'],
    ['email', 'text'],
    ['language', 'text'],
    ['country', 'text'],
    ['include_adult', 'boolean'],
    ['password_hash', 'text'],
    ['disabled', 'boolean'],
    ['created_at', 'bigint'],
    ['epoch', 'integer'],
  ],
  values: (a) => [
    a.id,
    a.objectId,
    a.username,
    a.username.toLowerCase(),
    a.name,
    a.email,
    a.language,
    a.country,
    a.includeAdult,
    a.passwordHash,
    a.disabled,
    a.createdAt,
    a.epoch,
  ],
}

/** Accounts whose id is among a list; `idIn` is how the dialect takes one (`IN …`, `= ANY(…)`). */
export const accountsByIdSql = (idIn: string): string => `SELECT * FROM accounts WHERE id ${idIn}`

/** The meta key holding the highest id of a deleted account: no new account ever takes an id up to it. */
export const HIGHEST_DELETED_ACCOUNT_ID = 'accounts.highest_deleted_id'

/** The highest account id ever given out, deleted accounts included (an SQL expression). */
export const HIGHEST_ACCOUNT_ID_SQL = `(SELECT MAX(n) FROM (
  SELECT COALESCE(MAX(id), 0) AS n FROM accounts
  UNION ALL SELECT CAST(value AS INTEGER) FROM meta WHERE key = '${HIGHEST_DELETED_ACCOUNT_ID}') AS ids)`

/**
 * Creates an account; null when the username is taken. With `numberHere` the statement picks the id
 * itself, after every id ever given out: for a backend whose own numbering would give a deleted
 * account's id again (SQLite takes the highest row's id plus one) and whose writes run one at a time.
 */
export function* insertAccount(account: NewAccount, numberHere = false): Work<AccountRecord | null> {
  const row = yield* get<AccountRow>(
    `INSERT INTO accounts (${numberHere ? 'id, ' : ''}object_id, username, username_key, name, email, language, country, include_adult, password_hash, created_at)
     VALUES (${numberHere ? `${HIGHEST_ACCOUNT_ID_SQL} + 1, ` : ''}?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (username_key) DO NOTHING RETURNING *`,
    account.objectId,
    account.username,
    account.username.toLowerCase(),
    account.name,
    account.email,
    account.language,
    account.country,
    account.includeAdult,
    account.passwordHash,
    account.createdAt,
  )
  return mapped(row, toAccount)
}

export function* findAccountByUsername(username: string): Work<AccountRecord | null> {
  return mapped(yield* get<AccountRow>('SELECT * FROM accounts WHERE username_key = ?', username.toLowerCase()), toAccount)
}

export function* findAccountById(id: number): Work<AccountRecord | null> {
  return mapped(yield* get<AccountRow>('SELECT * FROM accounts WHERE id = ?', id), toAccount)
}

export function* findAccountByObjectId(objectId: string): Work<AccountRecord | null> {
  return mapped(yield* get<AccountRow>('SELECT * FROM accounts WHERE object_id = ?', objectId), toAccount)
}

export function* listAccounts(): Work<AccountRecord[]> {
  return (yield* all<AccountRow>('SELECT * FROM accounts ORDER BY id')).map(toAccount)
}

/**
 * Ends every credential of an account (see `Store.setAccountDisabled`) and moves its epoch on, so
 * that nothing issued under the old one, even while this ran, works after it; part of the caller's
 * transaction. The website session `keepWebSessionHash`, when one is given and it still carries the
 * old epoch, is moved to the new one instead: it alone survives.
 */
export function* endAccountCredentials(accountId: number, now: number, keepWebSessionHash: string | null = null): Work<void> {
  const moved = yield* get<{ epoch: number }>('UPDATE accounts SET epoch = epoch + 1 WHERE id = ? RETURNING epoch', accountId)
  if (moved && keepWebSessionHash !== null) {
    yield* run(
      'UPDATE web_sessions SET epoch = ? WHERE session_hash = ? AND account_id = ? AND epoch = ?',
      moved.epoch,
      keepWebSessionHash,
      accountId,
      moved.epoch - 1,
    )
  }
  yield* run('DELETE FROM sessions WHERE account_id = ?', accountId)
  yield* run(
    'DELETE FROM web_sessions WHERE account_id = ? AND (CAST(? AS TEXT) IS NULL OR session_hash <> ?)',
    accountId,
    keepWebSessionHash,
    keepWebSessionHash,
  )
  yield* run('UPDATE access_tokens SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL', now, accountId)
  // A token the user approved but no client has turned into a session yet would outlive the change.
  yield* run("UPDATE request_tokens SET status = 'denied' WHERE account_id = ? AND status = 'approved' AND consumed_at IS NULL", accountId)
  yield* run("UPDATE v4_request_tokens SET status = 'denied' WHERE account_id = ? AND status = 'approved' AND consumed_at IS NULL", accountId)
}

/**
 * Runs in one transaction (several statements). The epoch moves on when disabling (with the
 * credentials it ends), and when enabling a disabled account: whatever was issued in the meantime
 * under the old epoch stays dead.
 */
export function* setAccountDisabled(id: number, disabled: boolean, now: number): Work<boolean> {
  const changed =
    (yield* run(
      'UPDATE accounts SET disabled = ?, epoch = CASE WHEN disabled AND NOT ? THEN epoch + 1 ELSE epoch END WHERE id = ?',
      disabled,
      disabled,
      id,
    )) === 1
  if (changed && disabled) yield* endAccountCredentials(id, now)
  return changed
}

/** Runs in one transaction (several statements); with `endSessions` the epoch moves on with the credentials it ends. */
export function* setAccountPassword(id: number, passwordHash: string, endSessions: boolean, now: number, expectedHash?: string): Work<boolean> {
  const guard = expectedHash ?? null
  const changed =
    (yield* run('UPDATE accounts SET password_hash = ? WHERE id = ? AND (CAST(? AS TEXT) IS NULL OR password_hash = ?)', passwordHash, id, guard, guard)) === 1
  if (changed && endSessions) yield* endAccountCredentials(id, now)
  return changed
}

/**
 * Runs in one transaction (several statements). `forUpdate` is how the dialect locks the account's
 * row first (` FOR UPDATE`, or nothing where writes run one at a time), so that no row naming it can
 * be added between the deletions below: a racing insert waits, then is refused.
 */
export function* deleteAccount(id: number, forUpdate: string): Work<boolean> {
  if (!(yield* get(`SELECT id FROM accounts WHERE id = ?${forUpdate}`, id))) return false
  for (const table of ['sessions', 'web_sessions', 'access_tokens', 'request_tokens', 'v4_request_tokens', 'password_reset_tokens']) {
    yield* run(`DELETE FROM ${table} WHERE account_id = ?`, id)
  }
  yield* run('DELETE FROM accounts WHERE id = ?', id)
  // Clients keep account ids: a new account must never be given a deleted one's.
  yield* run(
    `INSERT INTO meta (key, value) VALUES (?, ?)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE CAST(meta.value AS INTEGER) < CAST(excluded.value AS INTEGER)`,
    HIGHEST_DELETED_ACCOUNT_ID,
    String(id),
  )
  return true
}

export function* setAccountName(accountId: number, name: string): Work<boolean> {
  return (yield* run('UPDATE accounts SET name = ? WHERE id = ?', name, accountId)) === 1
}
