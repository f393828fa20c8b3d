/**
 * `npm run bench`: cinepass against the physical limit of its stack (a bare node:http server) and
 * against its storage's building blocks alone, with wrk on loopback for capacity and bench/open-loop.mjs
 * for latency at half of it. See docs/performance.md for what each row means.
 *
 *   npm run bench -- [--smoke | --quick] [--backends sqlite,postgres (default both)] [--workers 2] [--connections 50] [--out bench/results]
 */
import { execFileSync } from 'node:child_process'
import { hash, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import {
  ACCOUNT_SESSIONS,
  commaList,
  cores,
  createDatabase,
  drive,
  endpointSlug,
  emptyPostgresDatabase,
  ENDPOINTS,
  freePort,
  generator,
  log,
  openLoop,
  peakRssMb,
  pinned,
  positiveNumber,
  requestLines,
  ROOT,
  runCapture,
  seed,
  serverCoreKeptAwake,
  serverCpu,
  SINGLE_USE_PER_SECOND_CEILING,
  startCinepass,
  startProcess,
  USER_COUNT,
  work,
  writeList,
  type Database,
  type Endpoint,
  type Measurement,
  type OpenLoopMeasurement,
  type Seeded,
  type Server,
} from './harness.js'
import { renderChart } from './chart.js'

type Mode = 'smoke' | 'quick' | 'full'
type Backend = 'sqlite' | 'postgres'

interface Options {
  mode: Mode
  backends: Backend[]
  workers: number
  connections: number
  out: string
}

export interface Row {
  backend: string
  endpoint: string
  workers: number
  connections: number
  reqPerSec: number
  p50Ms: number
  p99Ms: number
  /** Answers that were not 2xx, and socket errors: a healthy row has none. */
  errors: number
  peakRssMb: number | null
  /** req/s over the bare server's (`baselineRps`). */
  ratio: number | null
  /** The baseline's req/s measured just before this row: the ratio's denominator. */
  baselineRps: number
  /** Every ratio the row is judged by: to the bare server, to its backend's ceiling row, or to raw argon2id. */
  ratios: JudgedRatio[]
  /** Latency at a fixed offered rate of half the row's req/s, open loop (bench/open-loop.mjs). */
  openLoop?: OpenLoopMeasurement
  target: string
  met: boolean | null
  note?: string
}

interface JudgedRatio {
  of: Denominator
  value: number | null
  min: number
}

type Block = 'select' | 'insert'
type Denominator = 'bare' | Block | 'argon2'
const DENOMINATOR_NAMES: Record<Denominator, string> = { bare: 'bare', select: 'SELECT ceiling', insert: 'INSERT ceiling', argon2: 'raw argon2id' }

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      smoke: { type: 'boolean' },
      quick: { type: 'boolean' },
      full: { type: 'boolean' },
      backends: { type: 'string', default: 'sqlite,postgres' },
      workers: { type: 'string', default: '1' },
      connections: { type: 'string', default: '50' },
      out: { type: 'string', default: join(ROOT, 'bench/results') },
    },
  })
  const backends = commaList(values.backends)
  for (const backend of backends) if (backend !== 'sqlite' && backend !== 'postgres') throw new Error(`unknown backend ${backend}`)
  return {
    mode: values.smoke ? 'smoke' : values.quick ? 'quick' : 'full',
    backends: backends as Options['backends'],
    workers: positiveNumber('--workers', values.workers),
    connections: positiveNumber('--connections', values.connections),
    out: resolve(values.out),
  }
}

const options = parseOptions(process.argv.slice(2))
const timing = { smoke: { seconds: 1, warmup: 0 }, quick: { seconds: 3, warmup: 1 }, full: { seconds: 10, warmup: 3 } }[options.mode]

/**
 * The ratio targets of the single-statement rows, the same on both backends; each ceiling is the same
 * backend's. Every one of these rows must also answer with an open-loop p99 under OPEN_LOOP_P99_LIMIT_MS
 * at half its capacity.
 */
const TARGETS: Record<Exclude<Endpoint, 'validate_with_login'>, Partial<Record<Denominator, number>>> = {
  'GET /3/authentication': { bare: 0.6 },
  'token/new': { bare: 0.5 },
  'guest_session/new': { insert: 0.8 },
  'GET /3/account': { bare: 0.4, select: 0.85 },
  'session/new': { insert: 0.5 },
  'DELETE session': { insert: 0.8 },
}
/** Logins against raw argon2id: PostgreSQL's login throttle costs round trips unless its counters are in Redis. */
const LOGIN_TARGETS = { sqlite: 0.9, postgres: 0.8, 'postgres + Redis': 0.9 } as const
const OPEN_LOOP_P99_LIMIT_MS = 5
const RSS_LIMIT_MB = 150
// Its own database on the shared Redis, emptied before the row, so that neither another run's nor another
// program's counters count against its logins.
const REDIS_URL = process.env.CINEPASS_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/13'

const rows: Row[] = []
const skipped: string[] = []
let baselineRps = 0
let argon2PerSecond = 0
// Password hashes the server runs at once (its default for the server core, or CINEPASS_HASH_CONCURRENCY).
let hashConcurrency = 1

type Measured = Pick<Row, 'backend' | 'endpoint' | 'workers' | 'connections' | 'reqPerSec' | 'p50Ms' | 'p99Ms' | 'errors' | 'peakRssMb'>

/** A row with no target: the bare server, a ceiling, a scaling row. */
function addRow(partial: Measured & Partial<Pick<Row, 'ratio' | 'target' | 'note' | 'openLoop'>>): Row {
  return pushRow({ ratio: baselineRps > 0 ? partial.reqPerSec / baselineRps : null, target: '', ...partial, ratios: [], met: null, baselineRps })
}

function pushRow(row: Row): Row {
  rows.push(row)
  const openLoopText = row.openLoop ? `  open loop ${Math.round(row.openLoop.offeredRate)}/s p99 ${(row.openLoop.p99_us / 1000).toFixed(2)} ms` : ''
  log(
    `  ${row.backend.padEnd(16)} ${row.endpoint.padEnd(36)} w${row.workers} ${String(Math.round(row.reqPerSec)).padStart(7)} req/s  p50 ${row.p50Ms.toFixed(2)} ms  p99 ${row.p99Ms.toFixed(2)} ms${openLoopText}  rss ${row.peakRssMb ?? '?'} MB  ${ratiosText(row)}  ${row.met === null ? '' : row.met ? 'met' : 'NOT MET'}${row.errors ? `  errors ${row.errors}` : ''}`,
  )
  return row
}

/** `0.55 of bare, 0.91 of SELECT ceiling`: the ratios a row is judged by, or its ratio to bare. */
function ratiosText(row: Row): string {
  if (row.ratios.length === 0) return row.ratio === null ? '–' : `${row.ratio.toFixed(2)} of bare`
  return row.ratios.map((r) => `${r.value === null ? '–' : r.value.toFixed(2)} of ${DENOMINATOR_NAMES[r.of]}`).join(', ')
}

/**
 * A judged row: each ratio at least its minimum, the open-loop p99 (when measured) under its limit, peak
 * RSS under its limit, and no errors in either phase.
 */
function addJudgedRow(
  measuredRow: Measured,
  /** The open-loop phase; null when the row has one but it could not run (not met), undefined when it has none. */
  open: OpenLoopMeasurement | null | undefined,
  denominators: Partial<Record<Denominator, number>>,
  minimums: Partial<Record<Denominator, number>>,
  note?: string,
): Row {
  const ratios = (Object.entries(minimums) as [Denominator, number][]).map(([of, min]) => {
    const denominator = denominators[of] ?? 0
    return { of, min, value: denominator > 0 ? measuredRow.reqPerSec / denominator : null }
  })
  const targets = ratios.map((r) => `≥ ${r.min.toFixed(2)} of ${DENOMINATOR_NAMES[r.of]}`)
  if (open !== undefined) targets.push(`open-loop p99 < ${OPEN_LOOP_P99_LIMIT_MS} ms`)
  targets.push(`RSS < ${RSS_LIMIT_MB} MB`)
  const met =
    ratios.every((r) => r.value !== null && r.value >= r.min) &&
    (open === undefined || (open !== null && open.p99_us < OPEN_LOOP_P99_LIMIT_MS * 1000 && open.errors === 0)) &&
    measuredRow.peakRssMb !== null &&
    measuredRow.peakRssMb < RSS_LIMIT_MB &&
    measuredRow.errors === 0
  return pushRow({
    ...measuredRow,
    ratio: baselineRps > 0 ? measuredRow.reqPerSec / baselineRps : null,
    baselineRps,
    ratios,
    ...(open ? { openLoop: open } : {}),
    target: targets.join('; '),
    met,
    ...(note ? { note } : {}),
  })
}

function measured(m: Measurement): { reqPerSec: number; p50Ms: number; p99Ms: number; errors: number } {
  return { reqPerSec: m.requests / (m.duration_us / 1e6), p50Ms: m.p50_us / 1000, p99Ms: m.p99_us / 1000, errors: m.non2xx + m.socket_errors }
}

let baseline: { server: Server; list: string } | undefined
/** The bare server's open-loop rate: about the half-capacity rate of cinepass's fastest rows. */
const BASELINE_OPEN_LOOP_RATE = 10_000

/** Starts the bare server (kept running, idle between measurements) and measures it once for the table. */
async function startBaseline(): Promise<void> {
  const port = await freePort()
  const server = await startProcess([...serverCpu, process.execPath, join(ROOT, 'bench/baseline-server.mjs'), String(port)], {}, port)
  const list = writeList('baseline', ['GET\t/3/authentication/token/new'])
  baseline = { server, list }
  if (timing.warmup) await drive(server.base, list, timing.warmup, options.connections)
  const m = measured(await drive(server.base, list, timing.seconds, options.connections))
  baselineRps = m.reqPerSec
  const open = await openLoop(server.base, list, BASELINE_OPEN_LOOP_RATE, timing.seconds, options.connections)
  addRow({
    backend: 'node:http',
    endpoint: 'baseline (fixed JSON body)',
    workers: 1,
    connections: options.connections,
    ...m,
    peakRssMb: peakRssMb(server.pid),
    ratio: 1,
    openLoop: open,
    target: 'the physical limit',
    note: `open loop at a fixed ${BASELINE_OPEN_LOOP_RATE.toLocaleString('en-US')}/s: the floor that the generator and this machine set under every row's p99`,
  })
}

/**
 * Measures the baseline again just before a row, so that each ratio compares two figures taken under
 * the same conditions: on a shared machine the load drifts within minutes, and both move with it.
 */
async function refreshBaseline(): Promise<void> {
  if (!baseline || options.mode === 'smoke') return
  baselineRps = measured(await drive(baseline.server.base, baseline.list, Math.max(2, timing.seconds / 2), options.connections)).reqPerSec
}

const CEILING_BLOCKS: Record<Block, string> = { select: 'one indexed SELECT', insert: 'one group-committed INSERT' }
/** The faster ceiling row of each building block, per backend: the denominators of the ceiling ratios. */
const ceilingRps: Record<Backend, Record<Block, number>> = { sqlite: { select: 0, insert: 0 }, postgres: { select: 0, insert: 0 } }

/**
 * The building blocks alone, on the server core: one indexed SELECT, and one group-committed INSERT of a
 * random key (bench/ceiling-server.mjs). SQLite's behind bare `node:http` and behind Fastify; PostgreSQL's
 * behind bare `node:http` with a pool, batched per event-loop turn. They bound what a cinepass row can
 * reach, which also does an API-key check, hashes its secrets, writes an access line and sends TMDB's
 * headers; each backend's rows are judged against its own backend's ceilings.
 */
async function benchCeilings(kind: Backend): Promise<void> {
  const keys = Array.from({ length: 5000 }, (_, i) => `GET\t/select?k=${hash('sha256', `ceiling-${i}`, 'hex')}`)
  const lists = { select: writeList('ceiling-select', keys), insert: writeList('ceiling-insert', ['GET\t/insert']) }
  const rowsToSeed = options.mode === 'smoke' ? 1000 : 200_000
  const frameworks = kind === 'sqlite' ? (['node:http', 'fastify'] as const) : (['node:http'] as const)
  for (const framework of frameworks) {
    const dir = mkdtempSync(join(work, 'ceiling-'))
    let database: { url: string; remove: () => Promise<void> }
    try {
      database = kind === 'sqlite' ? { url: join(dir, 'ceiling.db'), remove: () => Promise.resolve() } : emptyPostgresDatabase()
    } catch (error) {
      skipped.push(`PostgreSQL ceilings skipped: ${(error as Error).message.split('\n')[0]!}`)
      return
    }
    const port = await freePort()
    const script = join(ROOT, 'bench/ceiling-server.mjs')
    const server = await startProcess(
      [...serverCpu, process.execPath, script, framework === 'fastify' ? 'fastify' : 'bare', String(port), database.url, String(rowsToSeed)],
      {},
      port,
    )
    try {
      for (const [block, name] of Object.entries(CEILING_BLOCKS) as [Block, string][]) {
        await refreshBaseline()
        if (timing.warmup) await drive(server.base, lists[block], timing.warmup, options.connections)
        const m = measured(await drive(server.base, lists[block], timing.seconds, options.connections))
        ceilingRps[kind][block] = Math.max(ceilingRps[kind][block], m.reqPerSec)
        addRow({
          backend: `${kind} ceiling`,
          endpoint: `${framework} + ${name}`,
          workers: 1,
          connections: options.connections,
          ...m,
          peakRssMb: peakRssMb(server.pid),
          target: 'a building block alone (no target)',
          note: `${rowsToSeed.toLocaleString('en-US')}-row table, random 64-hex keys; no API key, hashing, access log or TMDB headers`,
        })
      }
    } finally {
      await server.stop()
      await database.remove()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

async function benchArgon2(): Promise<void> {
  // Without CINEPASS_HASH_CONCURRENCY the script takes the server's default for its CPU affinity.
  const concurrency = process.env.CINEPASS_HASH_CONCURRENCY ? [process.env.CINEPASS_HASH_CONCURRENCY] : []
  const output = await runCapture(serverCpu[0] ?? process.execPath, [
    ...serverCpu.slice(1),
    ...(serverCpu.length ? [process.execPath] : []),
    join(ROOT, 'bench/argon2-raw.mjs'),
    String(Math.max(1, timing.seconds / 2)),
    ...concurrency,
  ])
  const raw = JSON.parse(output.trim().split('\n').pop()!) as { perSecond: number; concurrency: number }
  argon2PerSecond = raw.perSecond
  hashConcurrency = raw.concurrency
  log(`  raw argon2id (m=19456, t=2, p=1, ${hashConcurrency} at once${pinned ? ', on the server core' : ''}): ${argon2PerSecond.toFixed(1)} hashes/s`)
}

/** validate_with_login at 48 connections: logins a second against raw argon2id's hashes a second. */
async function benchLogin(label: keyof typeof LOGIN_TARGETS, server: Server, list: string): Promise<void> {
  const connections = Math.min(options.connections, 48)
  const login = measured(await drive(server.base, list, timing.seconds, connections))
  addJudgedRow(
    { backend: label, endpoint: 'validate_with_login', workers: 1, connections, ...login, peakRssMb: peakRssMb(server.pid) },
    undefined,
    { argon2: argon2PerSecond },
    { argon2: LOGIN_TARGETS[label] },
    `raw argon2id: ${argon2PerSecond.toFixed(0)} hashes/s; p99 is queueing behind the hash cap`,
  )
}

/**
 * Logins on PostgreSQL with the login throttle's counters in Redis (CINEPASS_REDIS_URL): a fresh server, on
 * a Redis database emptied first. Skipped, and said so, when Redis does not answer.
 */
async function benchRedisLogin(database: string, list: string): Promise<void> {
  const { Redis } = await import('ioredis')
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null })
  redis.on('error', () => {})
  try {
    await redis.connect()
    await redis.flushdb()
  } catch (error) {
    const reason = `PostgreSQL + Redis login row skipped: ${(error as Error).message}`
    skipped.push(reason)
    log(reason)
    return
  } finally {
    redis.disconnect()
  }
  const server = await startCinepass(database, 1, true, { CINEPASS_REDIS_URL: REDIS_URL })
  try {
    // No warmup, as for the other login rows: the logins a warmup leaves queued for hashing when its
    // connections close would fill the bounded hash queue, and the row's first requests be refused (503/9).
    await benchLogin('postgres + Redis', server, list)
  } finally {
    await server.stop()
  }
}

export interface EnumerationTiming {
  backend: string
  requestsEach: number
  unknownUserMedianMs: number
  wrongPasswordMedianMs: number
  /** One argon2id hash on this machine, ms: the yardstick of the criterion. */
  hashMs: number
  /** |difference of the medians| / hashMs. */
  differenceOfHash: number
  /** Two-sided p-value of a Mann-Whitney U test between the two samples (normal approximation). */
  mannWhitneyP: number
  met: boolean
}

const enumerations: EnumerationTiming[] = []

/**
 * Sequential validate_with_login calls on an otherwise idle server, alternating an unknown username
 * and a known one with a wrong password. Met when the medians differ by less than a quarter of one
 * hash and a Mann-Whitney U test finds no difference at p < 0.01. The login throttles are raised for
 * this server only: every failure comes from 127.0.0.1, and a 429 would measure the throttle instead.
 */
async function benchEnumeration(kind: 'sqlite' | 'postgres', database: string, seeded: Seeded): Promise<void> {
  const each = options.mode === 'smoke' ? 20 : options.mode === 'quick' ? 200 : 500
  const server = await startCinepass(database, 1, true, {
    CINEPASS_LOGIN_ADDRESS_FAILURES: '1000000',
    CINEPASS_LOGIN_ACCOUNT_FAILURES: '1000000',
    CINEPASS_LOGIN_PAIR_FAILURES: '1000000',
  })
  try {
    const key = `api_key=${seeded.apiKey}`
    const token = ((await (await fetch(`${server.base}/3/authentication/token/new?${key}`)).json()) as { request_token: string }).request_token
    const attempt = async (username: string): Promise<number> => {
      const started = performance.now()
      const response = await fetch(`${server.base}/3/authentication/token/validate_with_login?${key}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password: 'not the password', request_token: token }),
      })
      await response.arrayBuffer()
      if (response.status !== 401) throw new Error(`enumeration timing: expected 401, got ${response.status}`)
      return performance.now() - started
    }
    for (let i = 0; i < 10; i++) await attempt(seeded.users[i % seeded.users.length]!.username)
    const unknown: number[] = []
    const wrong: number[] = []
    for (let i = 0; i < each; i++) {
      unknown.push(await attempt(`nobody-${randomBytes(6).toString('hex')}`))
      wrong.push(await attempt(seeded.users[i % seeded.users.length]!.username))
    }
    const hashMs = (1000 * hashConcurrency) / argon2PerSecond
    const [mu, mw] = [median(unknown), median(wrong)]
    const differenceOfHash = Math.abs(mu - mw) / hashMs
    const mannWhitneyP = mannWhitneyU(unknown, wrong)
    const result: EnumerationTiming = {
      backend: kind,
      requestsEach: each,
      unknownUserMedianMs: round2(mu),
      wrongPasswordMedianMs: round2(mw),
      hashMs: round2(hashMs),
      differenceOfHash: round2(differenceOfHash),
      mannWhitneyP: Number(mannWhitneyP.toPrecision(3)),
      met: differenceOfHash < 0.25 && mannWhitneyP >= 0.01,
    }
    enumerations.push(result)
    log(
      `  ${kind.padEnd(8)} enumeration timing: unknown user ${result.unknownUserMedianMs} ms, wrong password ${result.wrongPasswordMedianMs} ms (median of ${each} each); difference ${(100 * differenceOfHash).toFixed(0)} % of a hash; Mann-Whitney p = ${result.mannWhitneyP}`,
    )
  } finally {
    await server.stop()
  }
}

const round2 = (n: number): number => Math.round(n * 100) / 100

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Two-sided p-value of the Mann-Whitney U test (normal approximation with tie correction). */
function mannWhitneyU(a: number[], b: number[]): number {
  const all = [...a.map((value) => ({ value, group: 0 })), ...b.map((value) => ({ value, group: 1 }))].sort((x, y) => x.value - y.value)
  const ranks = new Array<number>(all.length)
  let tieTerm = 0
  for (let i = 0; i < all.length;) {
    let j = i
    while (j + 1 < all.length && all[j + 1]!.value === all[i]!.value) j++
    for (let k = i; k <= j; k++) ranks[k] = (i + j) / 2 + 1
    const t = j - i + 1
    tieTerm += t ** 3 - t
    i = j + 1
  }
  const rankSumA = all.reduce((sum, entry, i) => (entry.group === 0 ? sum + ranks[i]! : sum), 0)
  const [n1, n2] = [a.length, b.length]
  const u = rankSumA - (n1 * (n1 + 1)) / 2
  const n = n1 + n2
  const sigma = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))))
  if (sigma === 0) return 1
  const z = Math.abs(u - (n1 * n2) / 2) / sigma
  return 2 * (1 - standardNormalCdf(z))
}

// Abramowitz and Stegun 7.1.26: enough precision for a p-value threshold of 0.01.
function standardNormalCdf(z: number): number {
  const t = 1 / (1 + 0.3275911 * (z / Math.SQRT2))
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(z * z) / 2)
  return 0.5 * (1 + erf)
}

async function benchBackend(kind: Backend): Promise<void> {
  let database: Database
  try {
    database = await createDatabase(kind)
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0]!
    skipped.push(`${kind === 'postgres' ? 'PostgreSQL' : 'SQLite'} rows skipped: ${reason}`)
    log(`${kind === 'postgres' ? 'PostgreSQL' : 'SQLite'} rows skipped: ${reason}`)
    return
  }
  try {
    // Enough single-use inputs for a write row, with a margin; a row that runs out shows non-2xx
    // answers. Smoke runs check that everything works, not figures: a few thousand keep CI short.
    const perRow = Math.ceil(options.mode === 'smoke' ? 8_000 : SINGLE_USE_PER_SECOND_CEILING * timing.seconds * 1.2)
    // The open-loop phase sends half the capacity for as long, from inputs the capacity phase never reaches.
    const perOpenLoop = Math.ceil(perRow / 2)
    const workerRuns = options.workers > 1 ? 1 : 0
    const singleUse = perRow + perOpenLoop + perRow * workerRuns
    log(`  seeding ${kind}: ${USER_COUNT} users, ${singleUse} approved tokens, ${singleUse} sessions…`)
    const started = Date.now()
    const seeded = await seed(database.url, {
      pending: Math.ceil(argon2PerSecond * (timing.seconds + timing.warmup) * 3 + 500),
      approved: singleUse,
      sessions: singleUse + ACCOUNT_SESSIONS,
    })
    log(`  seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    // Each phase's own slice of the single-use inputs: wrk's capacity phase, the open-loop phase, the workers' rows.
    const phases = { capacity: [0, perRow], openLoop: [perRow, perRow + perOpenLoop], workers: [perRow + perOpenLoop, singleUse] } as const
    const lists = (phase: keyof typeof phases): Record<Endpoint, string> => {
      const [from, to] = phases[phase]
      const lines = requestLines(seeded, {
        approvedTokens: seeded.approvedTokens.slice(from, to),
        deleteSessions: seeded.sessions.slice(from, to),
        // Its own sessions, which no DELETE row touches.
        accountSessions: seeded.sessions.slice(-ACCOUNT_SESSIONS),
      })
      return Object.fromEntries(ENDPOINTS.map((endpoint) => [endpoint, writeList(`${endpointSlug(endpoint)}-${kind}-${phase}`, lines[endpoint])])) as Record<
        Endpoint,
        string
      >
    }
    const l = lists('capacity')
    const openLoopLists = lists('openLoop')

    const server = await startCinepass(database.url, 1, true)
    let tokenIdleP99 = 0
    try {
      if (timing.warmup) {
        await drive(server.base, l['token/new'], timing.warmup, options.connections)
        await drive(server.base, l['GET /3/account'], timing.warmup, options.connections)
      }
      // The single-use rows get their warmup from the lists' spare inputs.
      for (const endpoint of Object.keys(TARGETS) as (keyof typeof TARGETS)[]) {
        await refreshBaseline()
        const m = measured(await drive(server.base, l[endpoint], timing.seconds, options.connections))
        if (endpoint === 'token/new') tokenIdleP99 = m.p99Ms
        // Half of what wrk just reached, at a steady rate: the latency a client sees with capacity to spare.
        // A row that answered nothing has no capacity to halve: judged without (not met), and noted.
        const open = m.reqPerSec > 0 ? await openLoop(server.base, openLoopLists[endpoint], m.reqPerSec / 2, timing.seconds, options.connections) : null
        const row = { backend: kind, endpoint, workers: 1, connections: options.connections, ...m, peakRssMb: peakRssMb(server.pid) }
        addJudgedRow(
          row,
          open,
          { bare: baselineRps, ...ceilingRps[kind] },
          TARGETS[endpoint],
          open ? undefined : 'no answer within the row: no open-loop phase',
        )
      }

      // Login: argon2-bound. Judged against the raw hashes/s of this machine, not the baseline.
      await benchArgon2()
      await benchLogin(kind, server, l.validate_with_login)

      // token/new while logins run: the event loop must stay responsive while hashes run.
      await refreshBaseline()
      const background = drive(server.base, l.validate_with_login, timing.seconds + 1, 16)
      await new Promise((r) => setTimeout(r, 300))
      const mixed = measured(await drive(server.base, l['token/new'], timing.seconds, options.connections - 16))
      await background
      addRow({
        backend: kind,
        endpoint: 'token/new during login load',
        workers: 1,
        connections: options.connections - 16,
        ...mixed,
        peakRssMb: peakRssMb(server.pid),
        target: 'reported (no target)',
        note: `16 connections of validate_with_login run beside it; saturated p99 of token/new alone: ${tokenIdleP99.toFixed(2)} ms`,
      })
    } finally {
      await server.stop()
    }

    if (kind === 'postgres') await benchRedisLogin(database.url, l.validate_with_login)
    await benchEnumeration(kind, database.url, seeded)

    if (workerRuns) {
      const clustered = await startCinepass(database.url, options.workers, false)
      try {
        const l = lists('workers')
        if (timing.warmup) await drive(clustered.base, l['token/new'], timing.warmup, options.connections, false)
        for (const endpoint of ['token/new', 'GET /3/account', 'session/new'] as const) {
          await refreshBaseline()
          const m = measured(await drive(clustered.base, l[endpoint], timing.seconds, options.connections, false))
          const single = rows.find((r) => r.backend === kind && r.endpoint === endpoint && r.workers === 1)
          addRow({
            backend: kind,
            endpoint,
            workers: options.workers,
            connections: options.connections,
            ...m,
            peakRssMb: peakRssMb(clustered.pid),
            ratio: baselineRps > 0 ? m.reqPerSec / baselineRps : null,
            target: 'scaling (no target)',
            note: single ? `${(m.reqPerSec / single.reqPerSec).toFixed(2)}× one worker; server and wrk share all ${cores} cores, unpinned` : undefined,
          })
        }
      } finally {
        await clustered.stop()
      }
    }
  } finally {
    await database.remove()
  }
}

// ---------------------------------------------------------------- report

interface Machine {
  cpu: string
  cores: number
  memoryGb: number
  node: string
  loadGenerator: string
  pinned: string
}

function machine(): Machine {
  const cpu = cpus()[0]?.model ?? 'unknown'
  let wrkVersion: string
  try {
    wrkVersion = execFileSync('wrk', ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0] ?? ''
  } catch (error) {
    wrkVersion = ((error as { stdout?: string }).stdout ?? '').split('\n')[0] || 'n/a'
  }
  return {
    cpu,
    cores,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadGenerator: generator === 'wrk' ? wrkVersion.replace(/\s*Copyright.*$/, '').trim() : 'autocannon',
    pinned: pinned
      ? `server on CPU 0, load generator on CPU 1 (taskset)${serverCoreKeptAwake ? ', server core kept awake during open-loop phases' : ''}`
      : 'not pinned (one core)',
  }
}

/** "yes", "**no**" or nothing, with the errors of both phases. */
function metText(row: Row): string {
  const errors = row.errors + (row.openLoop?.errors ?? 0)
  return `${row.met === null ? '' : row.met ? 'yes' : '**no**'}${errors ? ` (${errors} errors)` : ''}`
}

/** One line per judged endpoint and backend, for the README: the full table is latest.md. */
function summary(report: Report): string {
  const judged = report.rows.filter((r) => r.met !== null)
  const floor = report.rows.find((r) => r.backend === 'node:http')?.openLoop
  return [
    `${report.mode === 'full' ? 'Full' : `${report.mode[0]!.toUpperCase()}${report.mode.slice(1)}`} run of ${report.date.slice(0, 10)}, ${report.machine.cores} cores (${report.machine.pinned}); ${judged.filter((r) => r.met).length} of ${judged.length} rows met every target.`,
    ...(floor
      ? [`The bare node:http server, open loop at ${Math.round(floor.offeredRate)}/s in the same run: p99 ${(floor.p99_us / 1000).toFixed(2)} ms.`]
      : []),
    '',
    '| backend | endpoint | req/s | ratios | open-loop p99 ms | met? |',
    '|---|---|---|---|---|---|',
    ...judged.map(
      (r) =>
        `| ${r.backend} | ${r.endpoint} | ${Math.round(r.reqPerSec)} | ${ratiosText(r)} | ${r.openLoop ? (r.openLoop.p99_us / 1000).toFixed(2) : '–'} | ${metText(r)} |`,
    ),
    '',
  ].join('\n')
}

function markdown(report: Report): string {
  const fmt = (n: number | null, digits = 2): string => (n === null ? '–' : n.toFixed(digits))
  const lines = [
    `| backend | endpoint | workers | conns | req/s | saturated p50 ms | saturated p99 ms | half-capacity rate /s | open-loop p99 ms | peak RSS MB | ratios | target | met? |`,
    `|---|---|---|---|---|---|---|---|---|---|---|---|---|`,
    ...report.rows.map(
      (r) =>
        `| ${r.backend} | ${r.endpoint} | ${r.workers} | ${r.connections} | ${Math.round(r.reqPerSec)} | ${fmt(r.p50Ms)} | ${fmt(r.p99Ms)} | ${r.openLoop ? Math.round(r.openLoop.offeredRate) : '–'} | ${r.openLoop ? fmt(r.openLoop.p99_us / 1000) : '–'} | ${r.peakRssMb ?? '–'} | ${ratiosText(r)} | ${r.target} | ${metText(r)}${r.note ? ` — ${r.note}` : ''} |`,
    ),
  ]
  const m = report.machine
  return [
    `Benchmark (${report.mode} mode, ${report.secondsPerRow} s per row), ${report.date}`,
    '',
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, Node ${m.node}, ${m.loadGenerator}; ${m.pinned}. Load average before the run: ${report.loadBefore.join(' ')}, after: ${report.loadAfter.join(' ')}.`,
    `Raw argon2id on the server core: ${report.argon2PerSecond.toFixed(1)} hashes/s.`,
    `Saturated latencies are wrk's (closed loop, reported only); the open-loop p99 is measured at a constant offered rate of half the row's req/s, from each request's scheduled send time${report.machine.pinned.includes('kept awake') ? ', with the server core kept from halting (docs/performance.md)' : ''}. "of SELECT/INSERT ceiling" is a ratio to the faster ceiling row of that building block on the same backend.`,
    '',
    ...lines,
    '',
    ...(report.enumeration.length
      ? [
          'Enumeration by timing (an unknown user must not be told from a wrong password): sequential `validate_with_login` calls, an unknown user against a known user with a wrong password; met when the medians differ by less than a quarter of one hash and a Mann-Whitney U test finds no difference (p ≥ 0.01).',
          '',
          '| backend | requests each | unknown user median ms | wrong password median ms | one hash ms | difference / hash | Mann-Whitney p | met? |',
          '|---|---|---|---|---|---|---|---|',
          ...report.enumeration.map(
            (e) =>
              `| ${e.backend} | ${e.requestsEach} | ${e.unknownUserMedianMs} | ${e.wrongPasswordMedianMs} | ${e.hashMs} | ${e.differenceOfHash} | ${e.mannWhitneyP} | ${e.met ? 'yes' : '**no**'} |`,
          ),
          '',
        ]
      : []),
    ...(report.soaks.length
      ? [
          'Soak (`CINEPASS_LONG_TESTS=1 npx vitest run test/soak.test.ts`: churn at half the measured capacity; its latest report per backend):',
          '',
          '| backend | finished | seconds | flows | failures | purged rows | RSS median MB early → late | fds early → late | database MB early → late |',
          '|---|---|---|---|---|---|---|---|---|',
          ...report.soaks.map(
            (s) =>
              `| ${s.backend} | ${s.finishedAt} | ${s.seconds} | ${s.flows} | ${s.failures} | ${s.purged} | ${s.rssMedianMb.early} → ${s.rssMedianMb.late} | ${s.fds.early} → ${s.fds.late} | ${s.dbMb.early} → ${s.dbMb.late} |`,
          ),
          '',
        ]
      : []),
    ...report.skipped.map((s) => `${s}`),
    '',
  ].join('\n')
}

interface Report {
  date: string
  mode: Mode
  secondsPerRow: number
  machine: Machine
  loadBefore: string[]
  loadAfter: string[]
  baselineRps: number
  argon2PerSecond: number
  rows: Row[]
  enumeration: EnumerationTiming[]
  /** The latest soak of each backend (test/soak.test.ts with CINEPASS_LONG_TESTS=1), when one was run. */
  soaks: SoakSummary[]
  skipped: string[]
}

/** A value measured early and late in a soak. */
interface EarlyLate {
  early: number | string
  late: number | string
}

/** A soak report of test/soak.test.ts without its samples: the fields the Markdown shows, and the rest as they are. */
interface SoakSummary {
  backend: string
  finishedAt: string
  seconds: number
  flows: number
  failures: number
  purged: number
  rssMedianMb: EarlyLate
  fds: EarlyLate
  dbMb: EarlyLate
  [field: string]: unknown
}

/** The soak reports test/soak.test.ts left in bench/results/, without their samples. */
function latestSoaks(): SoakSummary[] {
  const dir = join(ROOT, 'bench/results')
  return ['sqlite', 'postgres'].flatMap((kind) => {
    try {
      const { samples: _samples, ...soak } = JSON.parse(readFileSync(join(dir, `soak-${kind}.json`), 'utf8')) as SoakSummary
      return [soak]
    } catch {
      return []
    }
  })
}

async function main(): Promise<void> {
  const loadBefore = loadavg().map((n) => n.toFixed(2))
  log(
    `cinepass benchmark: ${options.mode} mode, ${timing.seconds} s per row, ${options.connections} connections, ${generator}, load average ${loadBefore.join(' ')}`,
  )
  if (Number(loadBefore[0]) > cores * 0.5) log(`  warning: the machine is busy (load ${loadBefore[0]}); figures will be low and noisy`)
  await startBaseline()
  await benchArgon2()
  for (const backend of options.backends) {
    await benchCeilings(backend)
    await benchBackend(backend)
  }
  await baseline?.server.stop()
  if (!options.backends.includes('postgres')) skipped.push('PostgreSQL rows skipped: not asked for (--backends sqlite)')
  const report: Report = {
    date: new Date().toISOString(),
    mode: options.mode,
    secondsPerRow: timing.seconds,
    machine: machine(),
    loadBefore,
    loadAfter: loadavg().map((n) => n.toFixed(2)),
    baselineRps,
    argon2PerSecond,
    rows,
    enumeration: enumerations,
    soaks: latestSoaks(),
    skipped,
  }
  mkdirSync(options.out, { recursive: true })
  writeFileSync(join(options.out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`)
  const md = markdown(report)
  writeFileSync(join(options.out, 'latest.md'), md)
  writeFileSync(join(options.out, 'summary.md'), summary(report))
  writeFileSync(join(options.out, 'latest.svg'), renderChart(report.rows))
  process.stdout.write(`\n${md}`)
  const judged = rows.filter((r) => r.met !== null)
  process.stdout.write(`${judged.filter((r) => r.met).length} of ${judged.length} targets met; results in ${options.out}\n`)
}

await main()
