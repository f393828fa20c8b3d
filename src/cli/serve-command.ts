import { Command, Option } from 'commander'
import { loadConfig, type ConfigFlags } from '../config/config.js'
import { databaseOption } from './common.js'
import type { CliIo } from './io.js'
import { testingServeOptions, type TestingServeFlags } from '../testing/serve-options.js'
import { serve } from './serve.js'

/** The options `serve` reads; a command that extends `serve` adds its own beside them. */
export interface ServeOptions {
  host?: string
  port?: string
  database?: string
  publicUrl?: string
  /** False with --no-demo; commander sets true when the flag is absent. */
  demo: boolean
  workers?: string
}

/** The settings `serve` runs with: the environment, with the flags over it. */
export function serveConfig(io: CliIo, options: ServeOptions): ReturnType<typeof loadConfig> {
  const flags: ConfigFlags = { host: options.host, port: options.port, database: options.database, publicUrl: options.publicUrl, workers: options.workers }
  // Commander sets demo=true by default; only an explicit --no-demo overrides NODE_ENV.
  if (!options.demo) flags.demo = false
  return loadConfig(io.env, flags)
}

/** Adds the options that choose what `serve` runs with (shared by `serve` and `config`). */
export function withServeOptions(command: Command): Command {
  return command
    .addOption(new Option('--host <host>', 'address to listen on (CINEPASS_HOST, default 127.0.0.1)'))
    .addOption(new Option('--port <port>', 'port to listen on (CINEPASS_PORT, default 8080)'))
    .addOption(databaseOption())
    .addOption(new Option('--public-url <url>', 'URL users reach this server at (CINEPASS_PUBLIC_URL)'))
    .option('--no-demo', 'do not create the demo application and user on a new database')
    .addOption(new Option('--workers <n>', 'processes serving the port (node:cluster; CINEPASS_WORKERS, default 1); see docs/performance.md'))
}

/** `cinepass serve`: the TMDB API and the approval website, until SIGTERM or SIGINT. */
export function serveCommand(io: CliIo): Command {
  return withServeOptions(new Command('serve').description('serve the TMDB API and the approval website'))
    .option('--fixtures <file>', 'create or update the applications and users of this JSON file at start (see docs/testing.md)')
    .option('--auto-approve <username>', 'approve every new request token as this user (tests and CI only; refused with NODE_ENV=production)')
    .action(async (options: ServeOptions & TestingServeFlags) => {
      const config = serveConfig(io, options)
      const testing = testingServeOptions({ fixtures: options.fixtures, autoApprove: options.autoApprove }, io.env, config.database, config.workers)
      await serve(config, config.workers, testing)
    })
}
