import { Command, Option } from 'commander'
import { withCore, withDatabaseOptions, type DatabaseOptions } from './common.js'
import type { CliIo } from './io.js'
import { printResult } from './output.js'

/**
 * `cinepass users reset-link USERNAME`: a one-time link (an hour; stored as its hash; only the
 * newest link of a user works) to a page where the user sets a new password, which ends every session
 * of theirs. Prints one line, the link under the public URL; an operator hands it over (no email).
 */
export function resetLinkCommand(io: CliIo): Command {
  return withDatabaseOptions(
    new Command('reset-link').argument('<username>').description('print a one-time link (valid 1 hour) where the user sets a new password'),
  )
    .addOption(new Option('--public-url <url>', 'URL users reach the server at (CINEPASS_PUBLIC_URL)'))
    .action(async (username: string, options: DatabaseOptions & { publicUrl?: string }) =>
      withCore(io, options, async ({ account: accounts }, config) => {
        const { token, account, expiresAt } = await accounts.createResetToken(username)
        const url = `${config.publicUrl}/account/reset?token=${token}`
        printResult(io, options.json === true, { username: account.username, url, expires_at: new Date(expiresAt).toISOString() }, url)
      }),
    )
}
