import { Command } from 'commander'
import { UsageError } from '../core/errors.js'
import { withCore, withDatabaseOptions, type DatabaseOptions } from './common.js'
import type { CliIo } from './io.js'
import { printResult } from './output.js'
import { secretArgument } from './secrets.js'

const KIND_NAMES = { session: 'API session', access_token: 'v4 access token', web_session: 'website session' } as const

function when(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString()
}

/** `cinepass sessions list --user U` and `sessions revoke SESSION_ID | REF --user U | --user U`. */
export function sessionsCommand(io: CliIo): Command {
  const sessions = new Command('sessions').description("a user's live sessions, v4 access tokens and website sessions")

  withDatabaseOptions(sessions.command('list').description("list a user's live sessions, v4 access tokens and website sessions, newest first"))
    .requiredOption('--user <username>', 'whose')
    .action(async (options: DatabaseOptions & { user: string }) =>
      withCore(io, options, async ({ admin, account: accounts }) => {
        const user = await admin.findUser(options.user)
        const list = (await accounts.credentials(user)).map((row) => ({
          ref: row.ref,
          kind: row.kind,
          application: row.appName,
          created_at: when(row.createdAt),
          expires_at: when(row.expiresAt),
          last_used_at: when(row.lastUsedAt),
        }))
        const text =
          list.length === 0
            ? `"${user.username}" has no live session`
            : list.map((row) => `${row.ref}  ${KIND_NAMES[row.kind].padEnd(16)} ${row.created_at}  ${row.application ?? '(the website)'}`).join('\n')
        printResult(io, options.json === true, { user: { id: user.id, username: user.username }, sessions: list }, text)
      }),
    )

  withDatabaseOptions(
    sessions
      .command('revoke [id]')
      .description(
        'end a session at once: the session_id a client holds, or a REF from `sessions list` with --user; --user alone ends every session, access token and website session of that user',
      ),
  )
    .option('--user <username>', 'the user whose REF it is, or whose every credential ends')
    .action(async (id: string | undefined, options: DatabaseOptions & { user?: string }) => {
      const value = id === undefined ? undefined : await secretArgument(io, id)
      if (value === undefined && options.user === undefined) throw new UsageError('name a session id, a REF with --user, or --user alone')
      await withCore(io, options, async ({ admin, account: accounts }) => {
        if (options.user === undefined) {
          await admin.revokeSession(value!)
          printResult(io, options.json === true, { revoked: 1 }, 'session ended')
          return
        }
        const user = await admin.findUser(options.user)
        if (value === undefined) {
          await accounts.logOutEverywhere(user)
          printResult(
            io,
            options.json === true,
            { user: { id: user.id, username: user.username }, revoked: 'all' },
            `every session of "${user.username}" ended`,
          )
          return
        }
        const revoked = await accounts.revoke(user, value)
        if (!revoked) throw new UsageError(`"${user.username}" has no live session with that REF (see cinepass sessions list --user ${user.username})`)
        printResult(
          io,
          options.json === true,
          { user: { id: user.id, username: user.username }, revoked: 1, kind: revoked.kind },
          `${KIND_NAMES[revoked.kind]} ended`,
        )
      })
    })

  return sessions
}
