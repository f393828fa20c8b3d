import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** The shared test server (trust auth): `CINEPASS_TEST_PG_URL`, default the local one on 5432. */
export const PG_ADMIN_URL = process.env.CINEPASS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** A fresh, empty database on a PostgreSQL server, dropped by `drop()`. */
export interface TemporaryPostgresDatabase {
  name: string
  /** A postgres:// URL of the new database, as `--database` takes it. */
  url: string
  /** Runs one query on the database (a new connection each time) and returns its rows. */
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>
  /** Drops the database, ending any connection still open to it. */
  drop(): Promise<void>
}

async function onServer<T>(adminUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/** Creates `cinepass_test_<random hex>` (or `<prefix>_<hex>`) on the server of `adminUrl`. */
export async function createTemporaryPostgresDatabase(prefix = 'cinepass_test', adminUrl = PG_ADMIN_URL): Promise<TemporaryPostgresDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`
  await onServer(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`))
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return {
    name,
    url: url.toString(),
    query: async (sql, params = []) => onServer(url.toString(), async (client) => (await client.query(sql, params)).rows as Record<string, unknown>[]),
    drop: async () => {
      await onServer(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
    },
  }
}

/**
 * Whether the PostgreSQL tests can run here. Null when the test server answers; otherwise the reason,
 * printed as the skip reason. In CI (`CI` set) a missing PostgreSQL is a failure, never a skip: this
 * throws.
 */
export async function postgresSkipReason(suite: string, adminUrl = PG_ADMIN_URL): Promise<string | null> {
  try {
    await onServer(adminUrl, (client) => client.query('SELECT 1'))
    return null
  } catch (error) {
    const reason = `no PostgreSQL at ${adminUrl.replace(/\/\/[^@/]*@/, '//')} (${(error as Error).message || (error as { code?: string }).code})`
    if (process.env.CI) throw new Error(`${suite}: PostgreSQL is required in CI: ${reason}`, { cause: error })
    console.warn(`${suite}: skipped: ${reason}`)
    return reason
  }
}
