import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { UsageError } from '../core/errors.js'
import type { Core } from '../server.js'
import { registerAutoApprove } from './approval.js'
import { applyFixtures } from './apply-fixtures.js'
import { loadFixtures, type Fixtures } from './fixtures.js'

/** `cinepass serve --fixtures FILE --auto-approve USERNAME`, for tests and CI. */
export interface TestingServeFlags {
  fixtures?: string | undefined
  autoApprove?: string | undefined
}

export interface TestingServeOptions {
  fixtures: Fixtures | undefined
  autoApprove: string | undefined
}

/**
 * Checks the flags before anything starts: the fixtures file is read and validated, and
 * `--auto-approve` is refused with NODE_ENV=production (it lets anyone sign in as that user).
 */
export function testingServeOptions(flags: TestingServeFlags, env: NodeJS.ProcessEnv, database: string, workers: number): TestingServeOptions {
  if (flags.autoApprove !== undefined && env.NODE_ENV === 'production') {
    throw new UsageError('--auto-approve approves every request token without asking anyone: it is for tests and CI, and refused with NODE_ENV=production')
  }
  if (database === ':memory:' && workers > 1) throw new UsageError("--database :memory: is one process's own: it cannot be shared by --workers")
  return { fixtures: flags.fixtures === undefined ? undefined : loadFixtures(flags.fixtures), autoApprove: flags.autoApprove }
}

/**
 * Applies the fixtures (before the server listens) and prints the credentials they do not give (a
 * generated API key only when it is created: only its hash is kept); checks
 * that the `--auto-approve` user can approve. Secrets go to the terminal, never to the log.
 */
export async function prepareTestingServe(core: Core, options: TestingServeOptions, logger: Logger): Promise<void> {
  if (options.fixtures) {
    const applied = await applyFixtures(core, options.fixtures)
    const shown = applied.apps.flatMap((app, i) => {
      const given = options.fixtures!.apps![i]!
      const lines: string[] = []
      if (app.created && given.api_key === undefined) lines.push(`    API key:            ${app.apiKey}`)
      // A read access token can be made again whenever the API key is known; the fixtures may not give it.
      if (given.read_access_token === undefined && app.readAccessToken !== null) lines.push(`    read access token:  ${app.readAccessToken}`)
      return lines.length > 0 ? [`  ${app.name}`, ...lines] : []
    })
    if (shown.length > 0) {
      process.stdout.write(['', 'cinepass: the credentials the fixtures do not give (a generated API key is shown only this once):', ...shown, ''].join('\n'))
    }
    const count = (list: { created: boolean }[]) => ({
      created: list.filter((item) => item.created).length,
      existing: list.filter((item) => !item.created).length,
    })
    logger.info({ applications: count(applied.apps), users: count(applied.users) }, 'fixtures applied')
  }
  if (options.autoApprove !== undefined) {
    const account = await core.deps.store.findAccountByUsername(options.autoApprove)
    if (!account || account.disabled) throw new UsageError(`--auto-approve: no user "${options.autoApprove}" who may sign in`)
    logger.warn({ username: account.username }, 'every new request token is approved as this user (--auto-approve): for tests and CI only')
  }
}

/** The `startServer` plugin of `--auto-approve`, if given. */
export function testingServePlugins(options: TestingServeOptions): ((app: FastifyInstance, core: Core) => void)[] {
  const username = options.autoApprove
  return username === undefined ? [] : [(app, core) => registerAutoApprove(app, core, username)]
}
