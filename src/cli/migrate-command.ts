import { Command } from 'commander'
import { openStore } from '../server.js'
import { commandConfig, databaseOption } from './common.js'
import type { CliIo } from './io.js'
import { printResult } from './output.js'

/** A store that can say which schema version it is at (both backends can). */
interface Versioned {
  schemaVersion(): number | Promise<number>
}

function isVersioned(store: object): store is Versioned {
  return typeof (store as Partial<Versioned>).schemaVersion === 'function'
}

/** `cinepass migrate`: opening a store applies its pending migrations. */
export function migrateCommand(io: CliIo): Command {
  return new Command('migrate')
    .description('apply pending database migrations and exit')
    .addOption(databaseOption())
    .option('--json', 'print one JSON object')
    .action(async (options: { database?: string; json?: boolean }) => {
      const store = await openStore(commandConfig(io, options))
      try {
        const version = isVersioned(store) ? await store.schemaVersion() : null
        printResult(io, options.json === true, { database: store.kind, schema_version: version }, `migrations applied; schema version ${version ?? 'current'}`)
      } finally {
        await store.close()
      }
    })
}
