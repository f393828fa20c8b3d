#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander'
import { loadConfig, type ConfigFlags } from '../config.js'
import { UsageError } from '../core/errors.js'
import { registerAdminCommands } from './admin-commands.js'
import { registerBackupCommand } from './backup-command.js'
import { registerCopyCommand } from './copy-command.js'
import { registerResetLinkCommand } from './reset-link-command.js'
import { serve } from './serve.js'
import { migrate } from './store-commands.js'

/** Builds the `cinepass` command line. */
export function buildProgram(): Command {
  const program = new Command()
    .name('cinepass')
    .description('A TMDB-compatible authentication service.')
    .showHelpAfterError()
    .exitOverride()

  program
    .command('serve')
    .description('serve the TMDB API and the approval website')
    .addOption(new Option('--host <host>', 'address to listen on (CINEPASS_HOST, default 127.0.0.1)'))
    .addOption(new Option('--port <port>', 'port to listen on (CINEPASS_PORT, default 8080)'))
    .addOption(databaseOption())
    .addOption(new Option('--public-url <url>', 'URL users reach this server at (CINEPASS_PUBLIC_URL)'))
    .option('--no-demo', 'do not create the demo application and user on a new database')
    .addOption(new Option('--workers <n>', 'processes serving the port (node:cluster; CINEPASS_WORKERS, default 1); see docs/performance.md'))
    .action(async (options: ConfigFlags & { demo: boolean; workers?: string }) => {
      const { workers, ...flags }: ConfigFlags & { demo?: boolean; workers?: string } = { ...options }
      // Commander sets demo=true by default; only an explicit --no-demo overrides NODE_ENV.
      if (options.demo) delete flags.demo
      const processes = workerCount(workers ?? process.env.CINEPASS_WORKERS)
      await serve(loadConfig(process.env, flags, processes), processes)
    })

  program
    .command('migrate')
    .description('apply pending database migrations and exit')
    .addOption(databaseOption())
    .option('--json', 'print one JSON object')
    .action(async (options: { database?: string; json?: boolean }) => {
      await migrate(loadConfig(process.env, { database: options.database }), options.json === true)
    })

  registerAdminCommands(program)
  registerResetLinkCommand(program)
  registerBackupCommand(program)
  registerCopyCommand(program)
  return program
}

/** `--workers` / CINEPASS_WORKERS: a whole number from 1 to 64 (default 1: no cluster). */
export function workerCount(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return 1
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || Number(value) > 64) throw new UsageError('--workers / CINEPASS_WORKERS must be a whole number from 1 to 64')
  return Number(value)
}

export function databaseOption(): Option {
  return new Option('--database <path-or-url>', 'SQLite file or postgres:// URL (CINEPASS_DATABASE, default data/cinepass.db)')
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv)
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; a usage mistake has already been explained by commander.
      process.exitCode = error.exitCode === 0 ? 0 : 2
      return
    }
    if (error instanceof UsageError) {
      process.stderr.write(`cinepass: ${error.message}\n`)
      process.exitCode = 2
      return
    }
    process.stderr.write(`cinepass: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  }
}

await main(process.argv)
