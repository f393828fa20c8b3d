import { Command } from 'commander'
import { purgeAllExpired } from '../core/purge.js'
import { withCore, withDatabaseOptions, type DatabaseOptions } from './common.js'
import type { CliIo } from './io.js'
import { printResult } from './output.js'

/** `cinepass purge`: deletes expired rows now (a serving process also does it every CINEPASS_PURGE_INTERVAL). */
export function purgeCommand(io: CliIo): Command {
  return withDatabaseOptions(
    new Command('purge').description('delete expired request tokens, guest sessions, website sessions, reset links and (with a session lifetime) sessions'),
  ).action(async (options: DatabaseOptions) =>
    withCore(io, options, async ({ deps }) => {
      const deleted = await purgeAllExpired(deps.store, deps.clock)
      printResult(io, options.json === true, { deleted }, `${deleted} expired rows deleted`)
    }),
  )
}
