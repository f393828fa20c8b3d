import { Command, Option } from 'commander'
import { withCore, withDatabaseOptions, type DatabaseOptions } from './common.js'
import type { CliIo } from './io.js'
import { printResult } from './output.js'
import { secretArgument } from './secrets.js'

/** `cinepass apps create|list|suspend|resume|rotate-key|delete`. */
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

  withDatabaseOptions(
    apps
      .command('rotate-key <id_or_api_key>')
      .description(
        'give the application with this id or API key ("-": read it from standard input) a new API key and read access token; ' +
          'the old ones, and v4 access tokens issued through the old key, are refused within a second',
      ),
  ).action(async (idOrKey: string, options: DatabaseOptions) => {
    const named = await secretArgument(io, idOrKey)
    await withCore(io, options, async ({ admin }) => {
      const rotated = await admin.rotateApplicationKey(named)
      printResult(
        io,
        options.json === true,
        { id: rotated.id, api_key: rotated.api_key, read_access_token: rotated.read_access_token },
        [
          `application ${rotated.id} "${rotated.name}" has a new key; keep these, they are not shown again:`,
          `  API key (v3):              ${rotated.api_key}`,
          `  read access token (v4):    ${rotated.read_access_token}`,
        ].join('\n'),
      )
    })
  })

  withDatabaseOptions(
    apps
      .command('delete <id_or_api_key>')
      .description('delete the application with this id or API key ("-": read it from standard input) and end all its sessions and tokens'),
  ).action(async (idOrKey: string, options: DatabaseOptions) => {
    const named = await secretArgument(io, idOrKey)
    await withCore(io, options, async ({ admin }) => {
      const app = await admin.deleteApplication(named)
      printResult(
        io,
        options.json === true,
        { id: app.id, name: app.name, deleted: true },
        `application ${app.id} "${app.name}" deleted; its sessions and tokens ended`,
      )
    })
  })
  return apps
}
