import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { loadConfig } from '../../src/config/config.js'
import { buildCore, openStore } from '../../src/server.js'
import { temporaryDirectory, testBackends, type BackendKind } from '../../src/test-support/fixtures.js'
import { createTemporaryPostgresDatabase } from '../../src/test-support/postgres.js'

export type { BackendKind }

/** A fresh, empty database of one backend, and plain SQL access to it from outside cinepass. */
export interface TestBackend {
  kind: BackendKind
  /** What `--database` takes: a SQLite file path or a postgres:// URL. */
  database: string
  /** Rows of a read query, as objects. */
  query(sql: string): Promise<Record<string, unknown>[]>
  /** Problems the backend's own checker finds; empty when the database is consistent. */
  integrityProblems(): Promise<string[]>
  remove: () => Promise<void>
}

/** The backends the durability tests run on: SQLite always, PostgreSQL when it answers (required in CI). */
export async function availableBackends(): Promise<BackendKind[]> {
  return testBackends('durability tests, PostgreSQL variants')
}

export async function createBackend(kind: BackendKind, options: { dir?: string } = {}): Promise<TestBackend> {
  return kind === 'sqlite' ? sqliteBackend(options.dir) : postgresBackend()
}

function sqliteBackend(dir?: string): TestBackend {
  const temporary = dir === undefined ? temporaryDirectory('cinepass-durability-') : undefined
  const path = join(dir ?? temporary!.path, 'cinepass.db')
  const withDb = <T>(work: (db: Database.Database) => T): T => {
    const db = new Database(path)
    try {
      db.pragma('busy_timeout = 5000')
      return work(db)
    } finally {
      db.close()
    }
  }
  return {
    kind: 'sqlite',
    database: path,
    query: (sql) => Promise.resolve(withDb((db) => db.prepare(sql).all() as Record<string, unknown>[])),
    integrityProblems: () =>
      Promise.resolve(
        withDb((db) => {
          const integrity = (db.pragma('integrity_check') as { integrity_check: string }[]).map((row) => row.integrity_check)
          const foreignKeys = (db.pragma('foreign_key_check') as unknown[]).map((row) => `foreign key: ${JSON.stringify(row)}`)
          return [...integrity.filter((line) => line !== 'ok'), ...foreignKeys]
        }),
      ),
    remove: () => {
      temporary?.remove()
      return Promise.resolve()
    },
  }
}

async function postgresBackend(): Promise<TestBackend> {
  const database = await createTemporaryPostgresDatabase('cinepass_durability')
  return {
    kind: 'postgres',
    database: database.url,
    query: (sql) => database.query(sql),
    // PostgreSQL enforces its constraints on every commit; there is no file to check. The
    // consistency queries of each test do the rest.
    integrityProblems: () => Promise.resolve([]),
    remove: () => database.drop(),
  }
}

export interface Seeded {
  apiKey: string
  readAccessToken: string
  appId: string
  users: { id: number; username: string; password: string }[]
}

/** Creates one application and `userCount` users, as the admin CLI would, and closes the store. */
export async function seed(database: string, userCount = 2): Promise<Seeded> {
  const config = loadConfig({ CINEPASS_DATABASE: database })
  const store = await openStore(config)
  try {
    const core = buildCore(store, config)
    await core.keys.ensureKey()
    const app = await core.admin.createApplication({ name: 'Durability app' })
    const users: Seeded['users'] = []
    for (let i = 0; i < userCount; i++) {
      const username = `durable${i}`
      const password = `pw-${i}-${randomBytes(6).toString('hex')}`
      const account = await core.admin.createUser({ username, password, name: `Durable ${i}` })
      users.push({ id: account.id, username, password })
    }
    return { apiKey: app.api_key, readAccessToken: app.read_access_token, appId: app.id, users }
  } finally {
    await store.close()
  }
}
