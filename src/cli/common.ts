import { Option, type Command } from 'commander'
import { loadConfig, type Config } from '../config/config.js'
import { buildCore, openStore, type Core } from '../server.js'
import type { CliIo } from './io.js'

/** The options every database command takes. */
export interface DatabaseOptions {
  database?: string
  json?: boolean
}

/** `--database`: which database a command opens. */
export function databaseOption(): Option {
  return new Option('--database <path-or-url>', 'SQLite file or postgres:// URL (CINEPASS_DATABASE, default data/cinepass.db)')
}

/** Adds `--database` and `--json` to `command`. */
export function withDatabaseOptions(command: Command): Command {
  return command.addOption(databaseOption()).option('--json', 'print one JSON object on stdout')
}

/**
 * The settings of a command: the environment, with `--database` over CINEPASS_DATABASE (and
 * `--public-url` over CINEPASS_PUBLIC_URL, for a command that takes it).
 */
export function commandConfig(io: CliIo, options: { database?: string | undefined; publicUrl?: string | undefined }): Config {
  return loadConfig(io.env, { database: options.database, publicUrl: options.publicUrl })
}

/** Runs `work` on a core built over the configured store, and closes the store afterwards. */
export async function withCore<T>(
  io: CliIo,
  options: DatabaseOptions & { publicUrl?: string | undefined },
  work: (core: Core, config: Config) => Promise<T>,
): Promise<T> {
  const config = commandConfig(io, options)
  const store = await openStore(config)
  try {
    return await work(buildCore(store, config), config)
  } finally {
    await store.close()
  }
}
