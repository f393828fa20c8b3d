import { Command, Option } from 'commander'
import { withCore, withDatabaseOptions, type DatabaseOptions } from './common.js'
import type { CliIo } from './io.js'
import { printResult } from './output.js'
import { secretArgument } from './secrets.js'

/** `cinepass apps create|list|suspend|resume`. */
export function appsCommand(io: CliIo): Command {
  const apps = new Command('apps').description('manage applications (API keys and read access tokens)')

  withDatabaseOptions(apps.command('create').description('register an application and print its API key and read access token'))
    .requiredOption('--name <name>', 'the application name users see when they approve it')
    .addOption(new Option('--redirect-origin <url...>', 'allow redirect_to only to this origin (repeatable)'))
    .action(async (options: DatabaseOptions & { name: string; redirectOrigin?: string[] }) =>
      withCore(io, options, async ({ admin }) => {
        const created = await admin.createApplication({ name: options.name, redirectOrigins: options.redirectOrigin ?? [] })
        printResult(
          io,
          options.json === true,
          created,
          [
            `application ${created.id} "${created.name}" created; keep these, they are not shown again:`,
            `  API key (v3):              ${created.api_key}`,
            `  read access token (v4):    ${created.read_access_token}`,
          ].join('\n'),
        )
      }),
    )

  withDatabaseOptions(apps.command('list').description('list applications')).action(async (options: DatabaseOptions) =>
    withCore(io, options, async ({ admin }) => {
      const list = (await admin.listApplications()).map((app) => ({
        id: app.id,
        name: app.name,
        suspended: app.suspended,
        created_at: new Date(app.createdAt).toISOString(),
        redirect_origins: app.redirectOrigins,
      }))
      const text = list.length === 0 ? 'no applications' : list.map((app) => `${app.id}  ${app.suspended ? 'suspended' : 'active   '}  ${app.name}`).join('\n')
      printResult(io, options.json === true, { applications: list }, text)
    }),
  )

  for (const [name, suspended] of [
    ['suspend', true],
    ['resume', false],
  ] as const) {
    withDatabaseOptions(
      apps.command(`${name} <id_or_api_key>`).description(`${name} the application with this id or API key ("-": read it from standard input)`),
    ).action(async (idOrKey: string, options: DatabaseOptions) => {
      const named = await secretArgument(io, idOrKey)
      await withCore(io, options, async ({ admin }) => {
        const app = await admin.setApplicationSuspended(named, suspended)
        printResult(io, options.json === true, { id: app.id, name: app.name, suspended }, `application ${app.id} ${suspended ? 'suspended' : 'resumed'}`)
      })
    })
  }
  return apps
}
