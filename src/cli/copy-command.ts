import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { Command, Option } from 'commander'
import { loadConfig } from '../config/config.js'
import { databaseSetting, isPostgresUrl, redactDatabase } from '../config/database.js'
import { UsageError } from '../core/errors.js'
import type { Store } from '../core/store.js'
import { openStore } from '../server.js'
import type { CliIo } from './io.js'
import { printResult } from './output.js'

/**
 * `cinepass copy --from SOURCE --to TARGET [--force]`: copies every row (applications, accounts,
 * request tokens, sessions, guest sessions, v4 tokens, access tokens, signing keys, website sessions,
 * meta) from one database to another, SQLite or PostgreSQL either way. The target is migrated first
 * and must be empty unless `--force`, which replaces its content. The copy is one read snapshot of
 * the source written in one transaction: stop the servers on the source first, or writes made during
 * the copy stay behind. Rate-limit counters are not copied; they refill on their own.
 */
export function copyCommand(io: CliIo): Command {
  return new Command('copy')
    .description('copy all data from one database to another (SQLite ↔ PostgreSQL)')
    .addOption(new Option('--from <path-or-url>', 'the source: SQLite file or postgres:// URL').makeOptionMandatory())
    .addOption(new Option('--to <path-or-url>', 'the target: SQLite file or postgres:// URL').makeOptionMandatory())
    .option('--force', 'replace the content of a target that is not empty')
    .option('--json', 'print one JSON object on stdout')
    .action(async (options: { from: string; to: string; force?: boolean; json?: boolean }) => {
      await copy(io, options.from, options.to, options.force === true, options.json === true)
    })
}

async function copy(io: CliIo, from: string, to: string, force: boolean, json: boolean): Promise<void> {
  // Both are checked before anything is opened or created.
  const [sourceConfig, targetConfig] = [
    loadConfig(io.env, { database: databaseSetting('--from', from) }),
    loadConfig(io.env, { database: databaseSetting('--to', to) }),
  ]
  if (sameDatabase(from, to)) throw new UsageError('--from and --to name the same database')
  // A mistyped source path must not silently copy a new, empty database over the target.
  if (!isPostgresUrl(from) && !existsSync(from)) throw new UsageError(`--from: no database at ${from}`)
  const source = await openStore(sourceConfig)
  let target: Store | undefined
  try {
    target = await openStore(targetConfig)
    if (!force && !(await target.isEmpty())) throw new UsageError(`--to ${redactDatabase(to)} is not empty; add --force to replace its content`)
    const snapshot = await source.exportAll()
    await target.replaceAll(snapshot)
    const rows = Object.fromEntries(Object.entries(snapshot).map(([table, list]) => [table, (list as unknown[]).length]))
    printResult(
      io,
      json,
      { from: source.kind, to: target.kind, rows },
      `copied ${Object.values(rows).reduce((a, b) => a + b, 0)} rows from ${source.kind} to ${target.kind}: ${JSON.stringify(rows)}`,
    )
  } finally {
    await target?.close()
    await source.close()
  }
}

function sameDatabase(a: string, b: string): boolean {
  return isPostgresUrl(a) || isPostgresUrl(b) ? a === b : resolve(a) === resolve(b)
}
