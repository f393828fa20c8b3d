import type { Config } from '../config.js'
import { createLogger, startServer, type RunningServer } from '../server.js'

const DRAIN_TIMEOUT_MS = 10_000

/** `cinepass serve`: listens until SIGTERM or SIGINT, then drains and exits 0. */
export async function serve(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel)
  const server = await startServer(config, { logger })
  if (config.demo) await printDemoOnce(server, config)
  // Last, so that whoever waits for this line also has the demo banner.
  logger.info({ url: server.url, database: server.store.kind, publicUrl: config.publicUrl }, 'cinepass listening')

  const shutdown = (signal: string): void => {
    logger.info({ signal }, 'shutting down: finishing requests in flight')
    const timer = setTimeout(() => {
      logger.error('drain timeout passed; exiting')
      process.exit(1)
    }, DRAIN_TIMEOUT_MS)
    timer.unref()
    server.close().then(
      () => {
        logger.info('stopped')
        logger.flush()
        process.exit(0)
      },
      (error: unknown) => {
        logger.error({ err: error instanceof Error ? error.name : 'error' }, 'error while stopping')
        process.exit(1)
      },
    )
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))
}

/**
 * On a brand-new database, creates a demo application and user and prints them once (to the
 * terminal, not to the log), so a newcomer can try the flow at once. Never again on that database.
 */
async function printDemoOnce(server: RunningServer, config: Config): Promise<void> {
  const { store, core } = server
  const [apps, users] = await Promise.all([store.listApplications(), store.listAccounts()])
  if (apps.length > 0 || users.length > 0) return
  if (!(await store.setMetaIfAbsent('demo_created_at', new Date().toISOString()))) return
  const app = await core.admin.createApplication({ name: 'Demo app' })
  const password = core.deps.random.bytes(12).toString('base64url')
  const user = await core.admin.createUser({ username: 'demo', password, name: 'Demo User', email: 'demo@example.com' })
  const base = config.publicUrl
  process.stdout.write(
    [
      '',
      'cinepass created a demo application and user on this new database (shown only this once):',
      `  API key:            ${app.api_key}`,
      `  read access token:  ${app.read_access_token}`,
      `  user:               ${user.username}`,
      `  password:           ${password}`,
      '',
      'Try it:',
      `  curl -s '${base}/3/authentication/token/new?api_key=${app.api_key}'`,
      '',
      'Turn this off with --no-demo or NODE_ENV=production.',
      '',
    ].join('\n'),
  )
}
