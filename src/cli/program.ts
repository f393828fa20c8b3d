import { Command, CommanderError } from 'commander'
import { UsageError } from '../core/errors.js'
import { VERSION } from '../version.js'
import { appsCommand } from './apps-command.js'
import { backupCommand } from './backup-command.js'
import { configCommand } from './config-command.js'
import { copyCommand } from './copy-command.js'
import type { CliIo } from './io.js'
import { keysCommand } from './keys-command.js'
import { migrateCommand } from './migrate-command.js'
import { purgeCommand } from './purge-command.js'
import { serveCommand } from './serve-command.js'
import { sessionsCommand } from './sessions-command.js'
import { usersCommand } from './users-command.js'

/** Builds the `cinepass` command line over `io`. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('cinepass')
    .description('A TMDB-compatible authentication service.')
    .version(VERSION, '-V, --version', 'print the version and exit')
  for (const command of [
    serveCommand(io),
    configCommand(io),
    migrateCommand(io),
    appsCommand(io),
    usersCommand(io),
    sessionsCommand(io),
    keysCommand(io),
    purgeCommand(io),
    backupCommand(io),
    copyCommand(io),
  ]) {
    program.addCommand(command)
  }
  behaveAlike(program, io)
  return program
}

// Commands built on their own do not inherit these settings from the program: every level gets them.
// A usage mistake is one line, as every other mistake is, pointing at the command's help.
function behaveAlike(command: Command, io: CliIo, path = command.name()): void {
  command.exitOverride().configureOutput({
    writeOut: (text) => void io.stdout.write(text),
    writeErr: (text) => void io.stderr.write(text),
    outputError: (text) =>
      void io.stderr.write(
        `cinepass: ${text
          .trim()
          .replace(/^error: /, '')
          .replace(/\s*\n\s*/g, ' ')} (see "${path} --help")\n`,
      ),
  })
  for (const sub of command.commands) behaveAlike(sub, io, `${path} ${sub.name()}`)
}

/**
 * Runs `cinepass` with the user's arguments (`args`, without node and the script) and resolves with
 * its exit code: 0 done (help and version included), 2 a usage or settings mistake, 1 a failure to
 * start (the database, the port) or anything else; each failure is explained in one line on stderr.
 * A `serve` that started resolves 0 and keeps serving.
 */
export async function runCli(args: string[], io: CliIo): Promise<number> {
  try {
    await buildProgram(io).parseAsync(args, { from: 'user' })
    return 0
  } catch (error) {
    // Help and version exit 0; a usage mistake has already been explained by commander.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2
    if (error instanceof UsageError) {
      io.stderr.write(`cinepass: ${error.message}\n`)
      return 2
    }
    io.stderr.write(`cinepass: ${error instanceof Error ? error.message : String(error)}\n`)
    return 1
  }
}
