import type { StoreSnapshot } from '../../core/store.js'
import { ACCOUNTS } from './accounts.js'
import { APPLICATIONS } from './applications.js'
import { GUEST_SESSIONS } from './guest-sessions.js'
import { META } from './meta.js'
import { all, get, run, type Param, type Work } from './queryable.js'
import { REQUEST_TOKENS } from './request-tokens.js'
import {
  toAccessToken,
  toAccount,
  toApplication,
  toGuestSession,
  toRequestToken,
  toSession,
  toSigningKey,
  toV4RequestToken,
  toWebSession,
  type AccessTokenRow,
  type AccountRow,
  type ApplicationRow,
  type GuestSessionRow,
  type MetaRow,
  type RequestTokenRow,
  type SessionRow,
  type SigningKeyRow,
  type V4RequestTokenRow,
  type WebSessionRow,
} from './rows.js'
import { SESSIONS } from './sessions.js'
import { SIGNING_KEYS } from './signing-keys.js'
import { insertSql, type Table } from './table.js'
import { ACCESS_TOKENS, V4_REQUEST_TOKENS } from './v4.js'
import { WEB_SESSIONS } from './web-sessions.js'

/** Every table, in foreign-key order: parents first (insert in this order, delete in reverse). */
const TABLES: readonly Table<never>[] = [
  META,
  APPLICATIONS,
  ACCOUNTS,
  REQUEST_TOKENS,
  SESSIONS,
  GUEST_SESSIONS,
  V4_REQUEST_TOKENS,
  ACCESS_TOKENS,
  SIGNING_KEYS,
  WEB_SESSIONS,
]

const IS_EMPTY = `SELECT 1 AS found WHERE ${TABLES.map((table) => `EXISTS (SELECT 1 FROM ${table.name})`).join(' OR ')}`

export function* isEmpty(): Work<boolean> {
  return (yield* get(IS_EMPTY)) === undefined
}

function rowsOf<R>(table: Table<unknown>): Work<R[]> {
  return all<R>(`SELECT * FROM ${table.name} ORDER BY ${table.key}`)
}

/** Every row of every table; the backend runs it in one read transaction, so the snapshot is consistent. */
export function* exportAll(): Work<StoreSnapshot> {
  return {
    meta: (yield* rowsOf<MetaRow>(META)).map(({ key, value }) => ({ key, value })),
    applications: (yield* rowsOf<ApplicationRow>(APPLICATIONS)).map(toApplication),
    accounts: (yield* rowsOf<AccountRow>(ACCOUNTS)).map(toAccount),
    requestTokens: (yield* rowsOf<RequestTokenRow>(REQUEST_TOKENS)).map(toRequestToken),
    sessions: (yield* rowsOf<SessionRow>(SESSIONS)).map(toSession),
    guestSessions: (yield* rowsOf<GuestSessionRow>(GUEST_SESSIONS)).map(toGuestSession),
    v4RequestTokens: (yield* rowsOf<V4RequestTokenRow>(V4_REQUEST_TOKENS)).map(toV4RequestToken),
    accessTokens: (yield* rowsOf<AccessTokenRow>(ACCESS_TOKENS)).map(toAccessToken),
    signingKeys: (yield* rowsOf<SigningKeyRow>(SIGNING_KEYS)).map(toSigningKey),
    webSessions: (yield* rowsOf<WebSessionRow>(WEB_SESSIONS)).map(toWebSession),
  }
}

/**
 * Deletes every row, then inserts every row of `snapshot` with its own keys, many rows per
 * statement within `maxParams` parameters. The backend runs it in one transaction.
 */
export function* replaceAll(snapshot: StoreSnapshot, maxParams: number): Work<void> {
  const of = <R>(table: Table<R>, records: R[]): { table: Table<never>; rows: Param[][] } => ({ table, rows: records.map((r) => table.values(r)) })
  const tables = [
    of(META, snapshot.meta),
    of(APPLICATIONS, snapshot.applications),
    of(ACCOUNTS, snapshot.accounts),
    of(REQUEST_TOKENS, snapshot.requestTokens),
    of(SESSIONS, snapshot.sessions),
    of(GUEST_SESSIONS, snapshot.guestSessions),
    of(V4_REQUEST_TOKENS, snapshot.v4RequestTokens),
    of(ACCESS_TOKENS, snapshot.accessTokens),
    of(SIGNING_KEYS, snapshot.signingKeys),
    of(WEB_SESSIONS, snapshot.webSessions),
  ]
  for (const { table } of [...tables].reverse()) yield* run(`DELETE FROM ${table.name}`)
  for (const { table, rows } of tables) {
    const perStatement = Math.max(1, Math.floor(maxParams / table.columns.length))
    for (let start = 0; start < rows.length; start += perStatement) {
      const chunk = rows.slice(start, start + perStatement)
      yield* run(insertSql(table, chunk.length), ...chunk.flat())
    }
  }
}
