import cluster, { type Worker } from 'node:cluster'
import type { Logger } from 'pino'
import type { Config } from '../config/config.js'
import { redactDatabase } from '../config/database.js'
import { counterStore, startupWarnings } from '../config/describe.js'
import { createLogger } from '../logging/logger.js'
import { buildCore, checkAddressFree, openStore, startServer } from '../server.js'
import type { Core } from '../server.js'
import type { Store } from '../core/store.js'
import { prepareTestingServe, testingServePlugins, type TestingServeOptions } from '../testing/serve-options.js'
import { VERSION } from '../version.js'
import { lowerThreadpoolPriority } from './thread-priority.js'

// After SIGTERM, requests arriving on open keep-alive connections are still answered this long, so one a
// client sent just before the signal is not cut off with its idle connection.
const CLOSE_GRACE_MS = 500
// A worker that dies this soon after starting is not restarted: it would only die again.
const CRASH_LOOP_MS = 5_000

/**
 * `cinepass serve`: listens until SIGTERM or SIGINT, then drains and exits 0. With `workers` > 1 the
 * process is a node:cluster primary that forks that many workers sharing the port; SIGTERM to the
 * primary drains every worker, and the primary exits once they all have.
 */
export async function serve(config: Config, workers = 1, testing: TestingServeOptions = { fixtures: undefined, autoApprove: undefined }): Promise<void> {
  // A port in use is found before the database is opened (or created).
  if (cluster.isPrimary) await checkAddressFree(config)
  if (workers > 1 && cluster.isPrimary) return servePrimary(config, workers, testing)
  const logger = createLogger(config.logLevel)
  const plugins = testingServePlugins(testing)
  if (cluster.isWorker) {
    // The primary prepared the database (migrations, signing key, demo, fixtures) before forking.
    const server = await startServer(config, { logger, closeGraceMs: CLOSE_GRACE_MS, plugins })
    lowerThreadpoolPriority(config.abuse.hashNice)
    onSignals((signal) => drain(logger, signal, config.drainTimeoutMs, () => server.close()))
    logger.info({ url: server.url, worker: cluster.worker?.id }, 'worker listening')
    process.send?.({ type: 'listening', url: server.url })
    return
  }
  announceStart(logger, config)
  const store = testing.fixtures || testing.autoApprove !== undefined ? await openStore(config, 'serve') : undefined
  // Fixtures are in place before the server listens: whoever waits for /readyz finds them.
  if (store)
    await prepareTestingServe(buildCore(store, config), testing, logger).catch(async (error: unknown) => {
      await store.close()
      throw error
    })
  const server = await startServer(config, { logger, closeGraceMs: CLOSE_GRACE_MS, plugins, ...(store ? { store } : {}) })
  lowerThreadpoolPriority(config.abuse.hashNice)
  if (config.demo) await printDemoOnce(server.store, server.core, config)
  // Before the announcement: whoever saw it may send SIGTERM at once.
  onSignals((signal) => drain(logger, signal, config.drainTimeoutMs, () => server.close()))
  // Last, so that whoever waits for this line also has the demo banner; written at once, not with the
  // next batch of lines, since scripts and supervisors wait for it.
  logger.info({ url: server.url, database: server.store.kind, publicUrl: config.publicUrl }, 'cinepass listening')
  logger.flush()
}

async function servePrimary(config: Config, count: number, testing: TestingServeOptions): Promise<void> {
  const logger = createLogger(config.logLevel)
  announceStart(logger, config)
  // Migrations, the first signing key and the demo happen once, here, before any worker races for them.
  const store = await openStore(config)
  try {
    const core = buildCore(store, config)
    await core.keys.ensureKey()
    await prepareTestingServe(core, testing, logger)
    if (config.demo) await printDemoOnce(store, core, config)
  } finally {
    await store.close()
  }

  let stopping = false
  const listening = new Map<number, string>()
  let announced = false
  const fork = (): Worker => {
    const worker = cluster.fork()
    const bornAt = Date.now()
    worker.on('message', (message: { type?: unknown; url?: unknown } | null) => {
      if (message?.type !== 'listening' || typeof message.url !== 'string') return
      listening.set(worker.id, message.url)
      if (!announced && listening.size === count) {
        announced = true
        logger.info({ url: message.url, database: store.kind, publicUrl: config.publicUrl, workers: count }, 'cinepass listening')
        logger.flush()
      }
    })
    worker.once('exit', (code, signal) => {
      listening.delete(worker.id)
      if (stopping) return
      logger.error({ worker: worker.id, code, signal }, 'worker exited')
      if (Date.now() - bornAt < CRASH_LOOP_MS) {
        logger.error('a worker died while starting; stopping')
        void stopAll('worker failure', 1)
        return
      }
      fork()
    })
    return worker
  }
  for (let i = 0; i < count; i++) fork()

  const stopAll = async (reason: string, code: number): Promise<void> => {
    if (stopping) return
    stopping = true
    logger.info({ signal: reason }, 'shutting down: finishing requests in flight')
    const timer = setTimeout(() => {
      logger.error('drain timeout passed; exiting')
      process.exit(1)
    }, config.drainTimeoutMs + 2_000)
    timer.unref()
    const exits = Object.values(cluster.workers ?? {}).map(
      (worker) =>
        new Promise<boolean>((resolve) => {
          if (!worker || worker.isDead()) return resolve(true)
          worker.once('exit', (exitCode) => resolve(exitCode === 0))
          worker.process.kill('SIGTERM')
        }),
    )
    const clean = (await Promise.all(exits)).every(Boolean)
    logger.info('stopped')
    logger.flush(() => process.exit(clean ? code : 1))
  }
  onSignals((signal) => void stopAll(signal, 0))
}

/** The first log line: what this server runs with; then what looks wrong but need not stop it. */
function announceStart(logger: Logger, config: Config): void {
  logger.info(
    {
      version: VERSION,
      database: redactDatabase(config.database),
      counterStore: counterStore(config),
      publicUrl: config.publicUrl,
      signup: config.signup,
      demo: config.demo,
    },
    'cinepass starting',
  )
  for (const warning of startupWarnings(config)) logger.warn(warning)
}

function onSignals(handler: (signal: string) => void): void {
  process.once('SIGTERM', () => handler('SIGTERM'))
  process.once('SIGINT', () => handler('SIGINT'))
}

function drain(logger: Logger, signal: string, drainTimeoutMs: number, close: () => Promise<void>): void {
  logger.info({ signal }, 'shutting down: finishing requests in flight')
  const timer = setTimeout(() => {
    logger.error('drain timeout passed; exiting')
    process.exit(1)
  }, drainTimeoutMs)
  timer.unref()
  close().then(
    () => {
      logger.info('stopped')
      logger.flush(() => process.exit(0))
    },
    (error: unknown) => {
      logger.error({ err: error instanceof Error ? error.name : 'error' }, 'error while stopping')
      logger.flush(() => process.exit(1))
    },
  )
}

/**
 * On a brand-new database, creates a demo application and user and prints them once (to the
 * terminal, not to the log), so a newcomer can try the flow at once. Never again on that database.
 */
async function printDemoOnce(store: Store, core: Core, config: Config): Promise<void> {
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
