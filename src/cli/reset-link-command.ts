import { Option, type Command } from 'commander'
import { loadConfig } from '../config.js'
import { buildCore, openStore } from '../server.js'
import { databaseOption } from './main.js'
import { printResult } from './output.js'

/**
 * `cinepass users reset-link USERNAME`: a one-time link (an hour; stored as its hash; only the
 * newest link of a user works) to a page where the user sets a new password, which ends every session
 * of theirs. Prints one line, the link under the public URL; an operator hands it over (no email).
 */
export function registerResetLinkCommand(program: Command): void {
  const users = program.commands.find((command) => command.name() === 'users') ?? program.command('users').description('manage user accounts')
  users
    .command('reset-link <username>')
    .description('print a one-time link (valid 1 hour) where the user sets a new password')
    .addOption(databaseOption())
    .addOption(new Option('--public-url <url>', 'URL users reach the server at (CINEPASS_PUBLIC_URL)'))
    .option('--json', 'print one JSON object on stdout')
    .action(async (username: string, options: { database?: string; publicUrl?: string; json?: boolean }) => {
      const config = loadConfig(process.env, { database: options.database, publicUrl: options.publicUrl })
      const store = await openStore(config)
      try {
        const { token, account, expiresAt } = await buildCore(store, config).account.createResetToken(username)
        const url = `${config.publicUrl}/account/reset?token=${token}`
        printResult(options.json === true, { username: account.username, url, expires_at: new Date(expiresAt).toISOString() }, url)
      } finally {
        await store.close()
      }
    })
}
