import { Option, type Command } from 'commander'
import { loadConfig } from '../config.js'
import { UsageError } from '../core/errors.js'
import { purgeAllExpired } from '../core/purge.js'
import { buildCore, openStore, type Core } from '../server.js'
import { databaseOption } from './main.js'
import { printResult, readPasswordFromStdin } from './output.js'

interface Common {
  database?: string
  json?: boolean
}

/** Runs `work` on a core built over the configured store, and closes the store afterwards. */
async function withCore(options: Common, work: (core: Core) => Promise<void>): Promise<void> {
  const config = loadConfig(process.env, { database: options.database })
  const store = await openStore(config)
  try {
    await work(buildCore(store, config))
  } finally {
    await store.close()
  }
}

function withCommon(command: Command): Command {
  return command.addOption(databaseOption()).option('--json', 'print one JSON object on stdout')
}

async function passwordFromStdin(flag: boolean | undefined): Promise<string> {
  if (!flag) throw new UsageError('give the password on standard input with --password-stdin')
  return readPasswordFromStdin()
}

/** `cinepass apps …`, `cinepass users …`, `cinepass keys …`, `cinepass purge`. */
export function registerAdminCommands(program: Command): void {
  const apps = program.command('apps').description('manage applications (API keys and read access tokens)')

  withCommon(apps.command('create').description('register an application and print its API key and read access token'))
    .requiredOption('--name <name>', 'the application name users see when they approve it')
    .addOption(new Option('--redirect-origin <url...>', 'allow redirect_to only to this origin (repeatable)'))
    .action(async (options: Common & { name: string; redirectOrigin?: string[] }) =>
      withCore(options, async ({ admin }) => {
        const created = await admin.createApplication({ name: options.name, redirectOrigins: options.redirectOrigin ?? [] })
        printResult(
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

  withCommon(apps.command('list').description('list applications')).action(async (options: Common) =>
    withCore(options, async ({ admin }) => {
      const list = (await admin.listApplications()).map((app) => ({
        id: app.id,
        name: app.name,
        suspended: app.suspended,
        created_at: new Date(app.createdAt).toISOString(),
        redirect_origins: app.redirectOrigins,
      }))
      const text = list.length === 0 ? 'no applications' : list.map((app) => `${app.id}  ${app.suspended ? 'suspended' : 'active   '}  ${app.name}`).join('\n')
      printResult(options.json === true, { applications: list }, text)
    }),
  )

  for (const [name, suspended] of [
    ['suspend', true],
    ['resume', false],
  ] as const) {
    withCommon(apps.command(`${name} <api_key>`).description(`${name} the application with this API key`)).action(
      async (apiKey: string, options: Common) =>
        withCore(options, async ({ admin }) => {
          const app = await admin.setApplicationSuspended(apiKey, suspended)
          printResult(options.json === true, { id: app.id, name: app.name, suspended }, `application ${app.id} ${suspended ? 'suspended' : 'resumed'}`)
        }),
    )
  }

  const users = program.command('users').description('manage user accounts')

  withCommon(users.command('create').description('create a user; the password is read from standard input'))
    .requiredOption('--username <name>', 'the login name')
    .option('--name <text>', 'the display name')
    .option('--email <address>', 'the email address (its gravatar hash appears in /3/account)')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (options: Common & { username: string; name?: string; email?: string; passwordStdin?: boolean }) => {
      const password = await passwordFromStdin(options.passwordStdin)
      await withCore(options, async ({ admin }) => {
        const account = await admin.createUser({ username: options.username, password, name: options.name, email: options.email })
        printResult(options.json === true, { id: account.id, username: account.username }, `user ${account.id} "${account.username}" created`)
      })
    })

  withCommon(users.command('list').description('list users')).action(async (options: Common) =>
    withCore(options, async ({ admin }) => {
      const list = (await admin.listUsers()).map((account) => ({
        id: account.id,
        username: account.username,
        name: account.name,
        email: account.email,
        disabled: account.disabled,
      }))
      const text = list.length === 0 ? 'no users' : list.map((user) => `${user.id}  ${user.disabled ? 'disabled' : 'active  '}  ${user.username}`).join('\n')
      printResult(options.json === true, { users: list }, text)
    }),
  )

  for (const [name, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    withCommon(users.command(`${name} <username>`).description(`${name} a user${disabled ? ' and end all their sessions' : ''}`)).action(
      async (username: string, options: Common) =>
        withCore(options, async ({ admin }) => {
          const account = await admin.setUserDisabled(username, disabled)
          printResult(options.json === true, { id: account.id, username: account.username, disabled }, `user "${account.username}" ${name}d`)
        }),
    )
  }

  withCommon(users.command('set-password <username>').description('set a new password (from standard input) and end all the user\'s sessions'))
    .option('--password-stdin', 'read the password from standard input')
    .action(async (username: string, options: Common & { passwordStdin?: boolean }) => {
      const password = await passwordFromStdin(options.passwordStdin)
      await withCore(options, async ({ admin }) => {
        const account = await admin.setUserPassword(username, password)
        printResult(options.json === true, { id: account.id, username: account.username }, `password of "${account.username}" changed; their sessions ended`)
      })
    })

  const keys = program.command('keys').description('manage the keys that sign JWTs (read access tokens, v4 tokens)')

  withCommon(keys.command('list').description('list signing keys')).action(async (options: Common) =>
    withCore(options, async ({ keys: ring }) => {
      const list = (await ring.list()).map((key) => ({
        kid: key.kid,
        created_at: new Date(key.createdAt).toISOString(),
        retired_at: key.retiredAt === null ? null : new Date(key.retiredAt).toISOString(),
      }))
      const text = list.map((key) => `${key.kid}  ${key.retired_at ? `retired ${key.retired_at}` : 'live'}`).join('\n') || 'no keys'
      printResult(options.json === true, { keys: list }, text)
    }),
  )

  withCommon(keys.command('rotate').description('add a new signing key; tokens signed by older keys keep working')).action(async (options: Common) =>
    withCore(options, async ({ keys: ring }) => {
      const kid = await ring.rotate()
      printResult(options.json === true, { kid }, `new signing key ${kid}`)
    }),
  )

  withCommon(keys.command('retire <kid>').description('retire a signing key: every token it signed stops working')).action(
    async (kid: string, options: Common) =>
      withCore(options, async ({ keys: ring }) => {
        if (!(await ring.retire(kid))) throw new UsageError(`no live signing key has the id "${kid}"`)
        printResult(options.json === true, { kid, retired: true }, `signing key ${kid} retired`)
      }),
  )

  withCommon(program.command('purge').description('delete expired request tokens, guest sessions and sessions')).action(
    async (options: Common) =>
      withCore(options, async ({ deps }) => {
        const deleted = await purgeAllExpired(deps.store, deps.clock)
        printResult(options.json === true, { deleted }, `${deleted} expired rows deleted`)
      }),
  )
}
