import { Command } from 'commander'
import { effectiveSettings } from '../config/describe.js'
import type { CliIo } from './io.js'
import { printResult } from './output.js'
import { serveConfig, withServeOptions, type ServeOptions } from './serve-command.js'

/**
 * `cinepass config`: the settings `serve` would run with (environment and flags), secrets redacted;
 * a setting that is not valid is refused as `serve` would refuse it (exit 2), and nothing is opened.
 */
export function configCommand(io: CliIo): Command {
  return withServeOptions(new Command('config').description('print the settings serve would use (secrets redacted) and exit; exit 2 if one is invalid'))
    .option('--json', 'print one JSON object on stdout')
    .action((options: ServeOptions & { json?: boolean }) => {
      const settings = effectiveSettings(serveConfig(io, options))
      const text = Object.entries(settings)
        .map(([name, value]) => `${name}=${String(value)}`)
        .join('\n')
      printResult(io, options.json === true, settings, text)
    })
}
