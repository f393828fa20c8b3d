import type { Config } from '../config.js'
import { openStore } from '../server.js'
import { SqliteStore } from '../store/sqlite/sqlite-store.js'
import { printResult } from './output.js'

/** `cinepass migrate`: opening a store applies its pending migrations. */
export async function migrate(config: Config, json: boolean): Promise<void> {
  const store = await openStore(config)
  try {
    // Imported here, not at the top: the pg driver would otherwise load with every command, serve included.
    const { PostgresStore } = await import('../store/postgres/postgres-store.js')
    const version = store instanceof SqliteStore || store instanceof PostgresStore ? await store.schemaVersion() : null
    printResult(json, { database: store.kind, schema_version: version }, `migrations applied; schema version ${version ?? 'current'}`)
  } finally {
    await store.close()
  }
}
