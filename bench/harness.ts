/**
 * What the benchmark (run.ts) and the build comparison (compare.ts) share: the load generator, server
 * processes, seeding and databases. Seeding and the servers can come from another checkout's build
 * (`root`), so that two builds are measured side by side, each on a database of its own schema.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { availableParallelism, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** This checkout. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const LUA = join(ROOT, 'bench/requests.lua')
const OPEN_LOOP = join(ROOT, 'bench/open-loop.mjs')
const PG_ADMIN = process.env.CINEPASS_BENCH_PG_ADMIN ?? 'postgres://postgres@127.0.0.1:5432/postgres'

export interface Measurement {
  requests: number
  duration_us: number
  p50_us: number
  p90_us: number
  p99_us: number
  max_us: number
  non2xx: number
  socket_errors: number
}

export const cores = availableParallelism()
export const pinned = cores >= 2
export const serverCpu = pinned ? ['taskset', '-c', '0'] : []
const loadCpu = pinned ? ['taskset', '-c', '1'] : []
export const work = mkdtempSync(join(tmpdir(), 'cinepass-bench-'))
const children = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL')
  // CINEPASS_BENCH_KEEP=1 keeps the servers' logs and request lists, to see what a row's errors were.
  if (process.env.CINEPASS_BENCH_KEEP === '1') process.stderr.write(`servers' logs and request lists kept in ${work}\n`)
  else rmSync(work, { recursive: true, force: true })
})

/** A command-line list (`a,b, c`) as its items. */
export function commaList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
}

/** A command-line number that must be positive; anything else stops the script with the option's name. */
export function positiveNumber(option: string, value: string): number {
  const number = Number(value)
  if (!Number.isFinite(number) || number <= 0) throw new Error(`${option} takes a positive number, not ${JSON.stringify(value)}`)
  return number
}

/** A progress line, on stderr: stdout carries only the results. */
export function log(line: string): void {
  process.stderr.write(`${line}\n`)
}

// ---------------------------------------------------------------- load generator

/** wrk when present (installed with apt-get when missing and allowed), else autocannon. */
function findLoadGenerator(): 'wrk' | 'autocannon' {
  const has = (): boolean => spawnSync('sh', ['-c', 'command -v wrk'], { stdio: 'ignore' }).status === 0
  if (has()) return 'wrk'
  if (process.getuid?.() === 0 && process.env.CINEPASS_BENCH_NO_INSTALL !== '1') {
    log('wrk is missing: installing it with apt-get (Debian package "wrk")')
    spawnSync('sh', ['-c', 'apt-get install -y wrk >/dev/null 2>&1 || (apt-get update >/dev/null 2>&1 && apt-get install -y wrk >/dev/null 2>&1)'], {
      stdio: 'ignore',
    })
    if (has()) return 'wrk'
  }
  log('wrk is missing (install it with `apt-get install -y wrk`); falling back to autocannon, whose own cost lowers every figure')
  return 'autocannon'
}
export const generator = findLoadGenerator()

/** Drives `base` with the requests listed in `listFile` (see requests.lua) for `seconds`. */
export async function drive(base: string, listFile: string, seconds: number, connections: number, pin = pinned): Promise<Measurement> {
  // wrk takes whole seconds.
  seconds = Math.max(1, Math.round(seconds))
  const threads = pin ? 1 : 2
  if (generator === 'wrk') {
    const args = [
      ...(pin ? loadCpu : []),
      'wrk',
      `-t${threads}`,
      `-c${connections}`,
      `-d${seconds}s`,
      '--timeout',
      '5s',
      '-s',
      LUA,
      base,
      '--',
      listFile,
      String(threads),
    ]
    const output = await runCapture(args[0]!, args.slice(1))
    const line = output.split('\n').find((l) => l.startsWith('WRK_RESULT '))
    if (!line) throw new Error(`wrk gave no result:\n${output}`)
    return JSON.parse(line.slice('WRK_RESULT '.length)) as Measurement
  }
  return autocannon(base, listFile, seconds, connections)
}

/** The parts of autocannon's result the measurement uses (latencies in ms, duration in s). */
interface AutocannonResult {
  requests: { total: number }
  duration: number
  latency: { p50: number; p90: number; p99: number; max: number }
  non2xx: number
  errors: number
  timeouts: number
}

async function autocannon(base: string, listFile: string, seconds: number, connections: number): Promise<Measurement> {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- autocannon is optional and not installed: a string, not a module name, for the compiler
  const { default: run } = (await import('autocannon' as string)) as { default: (options: object) => Promise<AutocannonResult> }
  const items = readFileSync(listFile, 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split('\t'))
  let position = 0
  const result = await run({
    url: base,
    connections,
    duration: seconds,
    requests: [
      {
        setupRequest: (request: object) => {
          const [method, path, body] = items[position++ % items.length]!
          return { ...request, method, path, ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}) }
        },
      },
    ],
  })
  const ms = (value: number): number => Math.round(value * 1000)
  return {
    requests: result.requests.total,
    duration_us: result.duration * 1e6,
    p50_us: ms(result.latency.p50),
    p90_us: ms(result.latency.p90),
    p99_us: ms(result.latency.p99),
    max_us: ms(result.latency.max),
    non2xx: result.non2xx,
    socket_errors: result.errors + result.timeouts,
  }
}

/** What bench/open-loop.mjs prints: a fixed offered rate, latencies from each request's scheduled send time. */
export interface OpenLoopMeasurement {
  offeredRate: number
  sent: number
  completed: number
  /** Non-2xx answers, broken connections and answers still missing 5 s after the last send. */
  errors: number
  /** Requests sent more than 1 ms after their scheduled time (no free connection, or the generator behind). */
  lateSends: number
  achievedRate: number
  p50_us: number
  p90_us: number
  p99_us: number
  max_us: number
}

/**
 * Sends the requests of `listFile` to `base` at `rate` a second for `seconds`, open loop, from the load
 * core, with the server's core kept awake (`keepServerCoreAwake`).
 */
export async function openLoop(base: string, listFile: string, rate: number, seconds: number, connections: number): Promise<OpenLoopMeasurement> {
  const command = [...loadCpu, process.execPath, OPEN_LOOP, base, listFile, String(rate), String(seconds), String(connections)]
  // The generator waits up to 5 s for the last answers, and starts its connections first.
  const awake = keepServerCoreAwake(seconds + 10)
  try {
    const output = await runCapture(command[0]!, command.slice(1))
    return JSON.parse(output.trim().split('\n').pop()!) as OpenLoopMeasurement
  } finally {
    awake?.kill('SIGKILL')
  }
}

/** Whether open-loop measurements keep the server's core awake (CINEPASS_BENCH_AWAKE=0: they do not). */
export const serverCoreKeptAwake = pinned && process.env.CINEPASS_BENCH_AWAKE !== '0'

/**
 * A virtual machine whose idle vCPU halts at once (guest halt polling off, as on the machines this was
 * measured on) needs the host to schedule that vCPU again to wake it for the next request: milliseconds,
 * tens of them now and then. That alone gave the bare node:http server an open-loop p99 of 30–40 ms at
 * 4,000 requests a second, and 1–2 ms with its core kept awake: it measured the host, not the server.
 * So while an open-loop generator runs, a busy loop of the idle scheduling class (SCHED_IDLE: it runs
 * only when nothing else wants the core, and gives way at once) keeps the server's core from halting,
 * taking no time from the server. It ends by itself after `seconds` should this process die first.
 */
function keepServerCoreAwake(seconds: number): ChildProcess | null {
  if (!serverCoreKeptAwake) return null
  const spinner = spawn('taskset', ['-c', '0', 'chrt', '--idle', '0', 'bash', '-c', `while (( SECONDS < ${Math.ceil(seconds)} )); do :; done`], {
    stdio: 'ignore',
  })
  // Without taskset, chrt or bash the measurement goes on as it would have without the spinner.
  spinner.on('error', () => undefined)
  return spinner
}

export function runCapture(command: string, args: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolvePromise(output) : reject(new Error(`${command} exited ${code}:\n${output}`))))
  })
}

export function writeList(name: string, lines: string[]): string {
  const path = join(work, `${name}.tsv`)
  writeFileSync(path, `${lines.join('\n')}\n`)
  return path
}

// ---------------------------------------------------------------- servers

export async function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolvePromise(port))
    })
  })
}

export interface Server {
  base: string
  pid: number
  stop(): Promise<void>
}

export async function startProcess(command: string[], env: NodeJS.ProcessEnv, port: number): Promise<Server> {
  const logFile = join(work, `server-${port}.log`)
  const out = openSync(logFile, 'w')
  const child = spawn(command[0]!, command.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', out, out] })
  children.add(child)
  const exited = new Promise<void>((resolvePromise) => child.once('exit', () => resolvePromise()))
  const base = `http://127.0.0.1:${port}`
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`${command.join(' ')} exited:\n${readFileSync(logFile, 'utf8')}`)
    try {
      await fetch(`${base}/healthz`)
      break
    } catch {
      if (attempt > 300) throw new Error(`${command.join(' ')} did not listen:\n${readFileSync(logFile, 'utf8')}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  return {
    base,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
      children.delete(child)
    },
  }
}

/** `pid` and its descendants (cluster workers). */
function processTree(pid: number): number[] {
  let children: string[] = []
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)
  } catch {
    // Gone, or a kernel without the children file: `pid` alone.
  }
  return [pid, ...children.flatMap((child) => processTree(Number(child)))]
}

/** Sums `read` over `pid`'s process tree; a process that is gone meanwhile adds nothing. */
function sumOverTree(pid: number, read: (p: number) => number): number {
  return processTree(pid).reduce((sum, p) => {
    try {
      return sum + read(p)
    } catch {
      return sum
    }
  }, 0)
}

/** Peak resident memory (VmHWM) of `pid` and its descendants (cluster workers), in MB. */
export function peakRssMb(pid: number): number | null {
  const kb = sumOverTree(pid, (p) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0))
  return kb > 0 ? Math.round(kb / 1024) : null
}

const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100

/** CPU time (user + system, all threads) `pid` and its descendants (cluster workers) have used, in µs. */
export function cpuMicros(pid: number): number {
  const ticks = sumOverTree(pid, (p) => {
    // Fields 14 and 15 of /proc/<pid>/stat, counted after the parenthesised command name.
    const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return Number(fields[11]) + Number(fields[12])
  })
  return (ticks * 1e6) / CLOCK_TICKS_PER_SECOND
}

// ---------------------------------------------------------------- seeding (not measured)

export interface Seeded {
  apiKey: string
  users: { username: string; password: string }[]
  pendingTokens: string[]
  approvedTokens: string[]
  sessions: string[]
}

export const USER_COUNT = 64
/**
 * Above what one core serves of a single-use endpoint (session/new, DELETE) on the fastest machine
 * measured (22k/s on 2026-11-29), so that the seeded inputs of a measurement last it: a row that runs
 * out shows its extra requests as errors.
 */
export const SINGLE_USE_PER_SECOND_CEILING = 20_000
export const ACCOUNT_SESSIONS = 5000
const SEED_CONCURRENCY = 400

/** Users, an application, and the single-use inputs of the write rows, made with `root`'s build. */
export async function seed(database: string, counts: { pending: number; approved: number; sessions: number }, root = ROOT): Promise<Seeded> {
  const { loadConfig, openStore, buildCore, hashSecret } = await build(root)
  const config = loadConfig({ CINEPASS_DATABASE: database })
  const store = await openStore(config)
  try {
    const core = buildCore(store, config)
    await core.keys.ensureKey()
    const app = await core.admin.createApplication({ name: 'Benchmark app' })
    const password = `bench-${randomBytes(8).toString('hex')}`
    // Many users: the login throttle reserves slots per (user, address), and all load comes from one address.
    const users = await Promise.all(
      Array.from({ length: USER_COUNT }, async (_, i) => {
        const username = `bench${i}`
        await core.admin.createUser({ username, password, name: `Bench ${i}` })
        return { username, password }
      }),
    )
    const accounts = await store.listAccounts()
    const client = await core.auth.authenticateClient({ apiKey: app.api_key })
    const now = Date.now()
    const inBatches = async <T>(count: number, make: (i: number) => Promise<T>): Promise<T[]> => {
      const out: T[] = []
      // A few hundred at once: more would wait longer than the PostgreSQL pool's connection timeout
      // (1.5 s) for one of its 10 connections, and be refused as an outage.
      for (let start = 0; start < count; start += SEED_CONCURRENCY) {
        out.push(...(await Promise.all(Array.from({ length: Math.min(SEED_CONCURRENCY, count - start) }, (_, i) => make(start + i)))))
      }
      return out
    }
    const pendingTokens = await inBatches(counts.pending, async () => (await core.auth.createRequestToken(client)).requestToken)
    // Approved directly in the store: the password was checked by validate_with_login's own row.
    const approve = async (i: number): Promise<string> => {
      const { requestToken, expiresAt } = await core.auth.createRequestToken(client)
      const account = accounts[i % accounts.length]!
      // A new request token has no row until someone acts on it: the approval stores it.
      const issued = { appId: client.app.id, createdAt: now, expiresAt }
      const approved = await store.approveRequestToken({
        tokenHash: hashSecret(requestToken),
        accountId: account.id,
        epoch: account.epoch,
        now,
        appId: app.id,
        issued,
      })
      if (!approved) throw new Error('the benchmark could not approve a request token it made')
      return requestToken
    }
    const approvedTokens = await inBatches(counts.approved, approve)
    const sessions = await inBatches(counts.sessions, async (i) => (await core.auth.createSession(client, await approve(i))).sessionId)
    return { apiKey: app.api_key, users, pendingTokens, approvedTokens, sessions }
  } finally {
    await store.close()
    await settle(database)
  }
}

/**
 * Writes out what seeding left in memory, so that the first rows do not share the server's core with
 * the kernel writing back hundreds of megabytes (it showed as tens of milliseconds of open-loop p99):
 * PostgreSQL's dirty buffers (CHECKPOINT), then every file system's dirty pages (sync). Before that,
 * PostgreSQL's VACUUM (ANALYZE) does now what autovacuum would otherwise start during the first rows,
 * for tables that just grew by hundreds of thousands of rows: a database that has been in service
 * has had it done.
 */
async function settle(database: string): Promise<void> {
  if (/^postgres(ql)?:/.test(database)) {
    const { default: pg } = await import('pg')
    const client = new pg.Client({ connectionString: database })
    await client.connect()
    try {
      await client.query('VACUUM (ANALYZE)')
      await client.query('CHECKPOINT')
    } finally {
      await client.end()
    }
  }
  execFileSync('sync')
}

// ---------------------------------------------------------------- databases

export interface Database {
  kind: 'sqlite' | 'postgres'
  url: string
  remove(): Promise<void>
}

/** An empty database of `kind` with `root`'s schema, in the work folder or on the local PostgreSQL. */
export async function createDatabase(kind: 'sqlite' | 'postgres', root = ROOT): Promise<Database> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(work, 'sqlite-'))
    const remove = (): Promise<void> => {
      rmSync(dir, { recursive: true, force: true })
      return Promise.resolve()
    }
    return { kind, url: join(dir, 'cinepass.db'), remove }
  }
  const { url, remove } = emptyPostgresDatabase()
  try {
    const { loadConfig, openStore } = await build(root)
    const store = await openStore(loadConfig({ CINEPASS_DATABASE: url }))
    await store.close()
  } catch (error) {
    await remove()
    throw error
  }
  return { kind, url, remove }
}

/** A new, empty database on the local PostgreSQL server, and how to drop it. */
export function emptyPostgresDatabase(): { url: string; remove: () => Promise<void> } {
  const name = `cinepass_bench_${randomBytes(6).toString('hex')}`
  execFileSync('psql', ['-X', '-q', '-d', PG_ADMIN, '-c', `CREATE DATABASE ${name}`], { stdio: 'pipe' })
  return {
    url: PG_ADMIN.replace(/\/[^/]*$/, `/${name}`),
    remove: () => {
      execFileSync('psql', ['-X', '-q', '-d', PG_ADMIN, '-c', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`], { stdio: 'pipe' })
      return Promise.resolve()
    },
  }
}

/** `cinepass serve` of `root`'s build on `database`, on the server core when `pin`. */
export async function startCinepass(database: string, workers: number, pin: boolean, extraEnv: NodeJS.ProcessEnv = {}, root = ROOT): Promise<Server> {
  const port = await freePort()
  const entry = join(root, 'dist/cli/cinepass.cjs')
  const command = [
    ...(pin ? serverCpu : []),
    process.execPath,
    ...nodeFlagsOf(entry),
    entry,
    'serve',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--database',
    database,
    '--no-demo',
  ]
  if (workers > 1) command.push('--workers', String(workers))
  // Production settings, but the per-address API limit off: every request of the benchmark comes from 127.0.0.1.
  // glibc settings as docs/performance.md recommends: otherwise glibc keeps each hashing thread's 19 MiB
  // argon2 block after the hash is done (a fixed mmap threshold returns it; two arenas bound the rest).
  return startProcess(
    command,
    {
      NODE_ENV: 'production',
      CINEPASS_RATE_LIMIT: '0',
      CINEPASS_REQUEST_TOKEN_LIMIT: '0',
      CINEPASS_GUEST_SESSION_LIMIT: '0',
      MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2',
      MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ ?? '4194304',
      ...extraEnv,
    },
    port,
  )
}

/**
 * The Node.js flags a build's `cinepass` command runs with (its `#!/usr/bin/env -S node …` line), so
 * that the benchmark serves each build as `cinepass serve` would.
 */
function nodeFlagsOf(entry: string): string[] {
  const shebang = readFileSync(entry, 'utf8').split('\n', 1)[0]!
  return /^#!\S*env -S node(?: (.*))?$/.exec(shebang)?.[1]?.split(' ').filter(Boolean) ?? []
}

/** The modules of a checkout's build that seeding uses. */
async function build(root: string): Promise<{
  loadConfig: typeof import('../dist/config/config.js').loadConfig
  openStore: typeof import('../dist/server.js').openStore
  buildCore: typeof import('../dist/server.js').buildCore
  hashSecret: typeof import('../dist/core/secrets.js').hashSecret
}> {
  const [config, server, secrets] = await Promise.all([
    // Builds before the settings moved to dist/config/ (bench:compare runs older checkouts too).
    import(join(root, existsSync(join(root, 'dist/config/config.js')) ? 'dist/config/config.js' : 'dist/config.js')) as Promise<
      typeof import('../dist/config/config.js')
    >,
    import(join(root, 'dist/server.js')) as Promise<typeof import('../dist/server.js')>,
    import(join(root, 'dist/core/secrets.js')) as Promise<typeof import('../dist/core/secrets.js')>,
  ])
  return { loadConfig: config.loadConfig, openStore: server.openStore, buildCore: server.buildCore, hashSecret: secrets.hashSecret }
}

/** The endpoints the benchmark drives, by the names its table uses. */
export const ENDPOINTS = [
  'GET /3/authentication',
  'token/new',
  'guest_session/new',
  'GET /3/account',
  'session/new',
  'DELETE session',
  'validate_with_login',
] as const
export type Endpoint = (typeof ENDPOINTS)[number]

/** An endpoint's name as it can stand in a file name. */
export function endpointSlug(endpoint: Endpoint): string {
  return endpoint.replace(/\W+/g, '-')
}

/**
 * The request lines (requests.lua's format) of each endpoint. Single-use inputs come from the given
 * slices: `approvedTokens` for session/new, `deleteSessions` for DELETE; `accountSessions` are only
 * ever looked up.
 */
export function requestLines(
  seeded: Seeded,
  inputs: { approvedTokens: string[]; deleteSessions: string[]; accountSessions: string[] },
): Record<Endpoint, string[]> {
  const key = `api_key=${seeded.apiKey}`
  return {
    'GET /3/authentication': [`GET\t/3/authentication?${key}`],
    'token/new': [`GET\t/3/authentication/token/new?${key}`],
    'guest_session/new': [`GET\t/3/authentication/guest_session/new?${key}`],
    'session/new': inputs.approvedTokens.map((t) => `POST\t/3/authentication/session/new?${key}\t{"request_token":"${t}"}`),
    'GET /3/account': inputs.accountSessions.map((s) => `GET\t/3/account?${key}&session_id=${s}`),
    'DELETE session': inputs.deleteSessions.map((s) => `DELETE\t/3/authentication/session?${key}\t{"session_id":"${s}"}`),
    validate_with_login: seeded.pendingTokens.map((t, i) => {
      const user = seeded.users[i % seeded.users.length]!
      return `POST\t/3/authentication/token/validate_with_login?${key}\t{"username":"${user.username}","password":"${user.password}","request_token":"${t}"}`
    }),
  }
}
