import { UsageError } from '../core/errors.js'

/** The database every command uses when neither CINEPASS_DATABASE nor --database names one. */
export const DEFAULT_DATABASE = 'data/cinepass.db'

const POSTGRES_URL = /^postgres(ql)?:\/\//i
// Anything that starts like a URL (`scheme://`): a SQLite path never does, so a mistyped scheme is
// refused instead of becoming folders named after it.
const ANY_URL = /^[a-z][a-z0-9+.-]*:\/\//i

/** True when `database` names a PostgreSQL database (a postgres:// or postgresql:// URL) rather than a SQLite file. */
export function isPostgresUrl(database: string): boolean {
  return POSTGRES_URL.test(database)
}

/** `database` with any password in it replaced by `***`, for messages and logs. */
export function redactDatabase(database: string): string {
  if (!ANY_URL.test(database)) return database
  return database.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*):[^@/]*@/i, '$1:***@')
}

/**
 * Checks a database setting: a SQLite file path, or a postgres:// URL. `name` is how it was given
 * (e.g. `CINEPASS_DATABASE / --database`). Any other URL scheme, and an empty value, are refused.
 */
export function databaseSetting(name: string, database: string): string {
  if (database.trim() === '') throw new UsageError(`${name} must be a SQLite file path or a postgres:// URL, not ""`)
  if (ANY_URL.test(database) && !isPostgresUrl(database)) {
    throw new UsageError(`${name} must be a SQLite file path or a postgres:// URL, not "${redactDatabase(database)}" (unknown URL scheme)`)
  }
  return database
}
