import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Command } from 'commander'
import { isPostgresUrl, loadConfig } from '../config.js'
import { UsageError } from '../core/errors.js'
import { openStore } from '../server.js'
import { SqliteStore } from '../store/sqlite/sqlite-store.js'
import { databaseOption } from './main.js'
import { printResult } from './output.js'

/**
 * `cinepass backup --to FILE`: a consistent copy of a SQLite database, taken with SQLite's online
 * backup while servers keep using it. The copy is a complete database `cinepass serve --database FILE`
 * opens as it is. PostgreSQL is refused: its tool is pg_dump.
 */
export function registerBackupCommand(program: Command): void {
  program
    .command('backup')
    .description('copy the SQLite database to FILE while it is in use (PostgreSQL: use pg_dump)')
    .addOption(databaseOption())
    .requiredOption('--to <file>', 'where to write the copy (must not exist yet)')
    .option('--json', 'print one JSON object on stdout')
    .action(async (options: { database?: string; to: string; json?: boolean }) => {
      await backup(loadConfig(process.env, { database: options.database }), options.to, options.json === true)
    })
}

async function backup(config: ReturnType<typeof loadConfig>, to: string, json: boolean): Promise<void> {
  if (isPostgresUrl(config.database)) {
    throw new UsageError('backup copies SQLite databases only; for PostgreSQL use pg_dump')
  }
  const target = resolve(to)
  if (target === resolve(config.database)) throw new UsageError('--to must name a file other than the database')
  // Never overwrite: a half-noticed typo must not destroy an older backup (or another database).
  if (existsSync(target)) throw new UsageError(`--to ${to} already exists; choose a new file`)
  if (!existsSync(config.database)) throw new UsageError(`no database at ${config.database}`)
  const store = await openStore(config)
  try {
    if (!(store instanceof SqliteStore)) throw new UsageError('backup copies SQLite databases only')
    await store.backup(target)
  } finally {
    await store.close()
  }
  printResult(json, { database: 'sqlite', backup: target }, `backup written to ${target}`)
}
