import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { Command } from 'commander'
import { isPostgresUrl } from '../config/database.js'
import { UsageError } from '../core/errors.js'
import type { Store } from '../core/store.js'
import { openStore } from '../server.js'
import { commandConfig, databaseOption } from './common.js'
import type { CliIo } from './io.js'
import { printResult } from './output.js'

/** A store that can copy itself to a file while in use (SQLite). */
interface BackingUp {
  backup(target: string): Promise<void>
}

function canBackUp(store: Store): store is Store & BackingUp {
  return store.kind === 'sqlite' && typeof (store as Partial<BackingUp>).backup === 'function'
}

/**
 * `cinepass backup --to FILE`: a consistent copy of a SQLite database, taken with SQLite's online
 * backup while servers keep using it. The copy is a complete database `cinepass serve --database FILE`
 * opens as it is. PostgreSQL is refused: its tool is pg_dump.
 */
export function backupCommand(io: CliIo): Command {
  return new Command('backup')
    .description('copy the SQLite database to FILE while it is in use (PostgreSQL: use pg_dump)')
    .addOption(databaseOption())
    .requiredOption('--to <file>', 'where to write the copy (must not exist yet)')
    .option('--json', 'print one JSON object on stdout')
    .action(async (options: { database?: string; to: string; json?: boolean }) => {
      const config = commandConfig(io, options)
      if (isPostgresUrl(config.database)) throw new UsageError('backup copies SQLite databases only; for PostgreSQL use pg_dump')
      const target = resolve(options.to)
      if (target === resolve(config.database)) throw new UsageError('--to must name a file other than the database')
      // Never overwrite: a half-noticed typo must not destroy an older backup (or another database).
      if (existsSync(target)) throw new UsageError(`--to ${options.to} already exists; choose a new file`)
      if (!existsSync(config.database)) throw new UsageError(`no database at ${config.database}`)
      const store = await openStore(config)
      try {
        if (!canBackUp(store)) throw new UsageError('backup copies SQLite databases only')
        await store.backup(target)
      } finally {
        await store.close()
      }
      printResult(io, options.json === true, { database: 'sqlite', backup: target }, `backup written to ${target}`)
    })
}
