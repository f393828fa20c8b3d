import { Command } from 'commander'
import { withCore, withDatabaseOptions, type DatabaseOptions } from './common.js'
import type { CliIo } from './io.js'
import { printResult } from './output.js'
import { resetLinkCommand } from './reset-link-command.js'
import { newPassword } from './secrets.js'

/** `cinepass users create|list|disable|enable|set-password|delete|reset-link`. */
export function usersCommand(io: CliIo): Command {
  const users = new Command('users').description('manage user accounts')

  withDatabaseOptions(
    users.command('create').description('create a user; the password is asked for on a terminal (not echoed), or else read from standard input'),
  )
    .requiredOption('--username <name>', 'the login name')
    .option('--name <text>', 'the display name')
    .option('--email <address>', 'the email address (its gravatar hash appears in /3/account)')
    .option('--password-stdin', 'read the password from standard input, even on a terminal')
    .action(async (options: DatabaseOptions & { username: string; name?: string; email?: string; passwordStdin?: boolean }) => {
      const password = await newPassword(io, options.passwordStdin)
      await withCore(io, options, async ({ admin }) => {
        const account = await admin.createUser({ username: options.username, password, name: options.name, email: options.email })
        printResult(io, options.json === true, { id: account.id, username: account.username }, `user ${account.id} "${account.username}" created`)
      })
    })

  withDatabaseOptions(users.command('list').description('list users')).action(async (options: DatabaseOptions) =>
    withCore(io, options, async ({ admin }) => {
      const list = (await admin.listUsers()).map((account) => ({
        id: account.id,
        username: account.username,
        name: account.name,
        email: account.email,
        disabled: account.disabled,
      }))
      const text = list.length === 0 ? 'no users' : list.map((user) => `${user.id}  ${user.disabled ? 'disabled' : 'active  '}  ${user.username}`).join('\n')
      printResult(io, options.json === true, { users: list }, text)
    }),
  )

  for (const [name, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    withDatabaseOptions(users.command(`${name} <username>`).description(`${name} a user${disabled ? ' and end all their sessions' : ''}`)).action(
      async (username: string, options: DatabaseOptions) =>
        withCore(io, options, async ({ admin }) => {
          const account = await admin.setUserDisabled(username, disabled)
          printResult(io, options.json === true, { id: account.id, username: account.username, disabled }, `user "${account.username}" ${name}d`)
        }),
    )
  }

  withDatabaseOptions(
    users
      .command('set-password <username>')
      .description("set a new password (asked for on a terminal, or else read from standard input) and end all the user's sessions"),
  )
    .option('--password-stdin', 'read the password from standard input, even on a terminal')
    .action(async (username: string, options: DatabaseOptions & { passwordStdin?: boolean }) => {
      const password = await newPassword(io, options.passwordStdin)
      await withCore(io, options, async ({ admin }) => {
        const account = await admin.setUserPassword(username, password)
        printResult(
          io,
          options.json === true,
          { id: account.id, username: account.username },
          `password of "${account.username}" changed; their sessions ended`,
        )
      })
    })

  withDatabaseOptions(users.command('delete <username>').description('delete a user and end all their sessions and tokens')).action(
    async (username: string, options: DatabaseOptions) =>
      withCore(io, options, async ({ admin }) => {
        const account = await admin.deleteUser(username)
        printResult(
          io,
          options.json === true,
          { id: account.id, username: account.username, deleted: true },
          `user "${account.username}" deleted; their sessions and tokens ended`,
        )
      }),
  )
  users.addCommand(resetLinkCommand(io))
  return users
}
