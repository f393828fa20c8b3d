/**
 * `npm run bench`: cinepass against the physical limit of its stack (a bare node:http server), with
 * wrk on loopback. See docs/performance.md for what each row means.
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
  ENDPOINTS,
  freePort,
  generator,
  log,
  peakRssMb,
  pinned,
  positiveNumber,
  requestLines,
  ROOT,
  runCapture,
  seed,
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
  type Seeded,
  type Server,
} from './harness.js'
import { renderChart } from './chart.js'

type Mode = 'smoke' | 'quick' | 'full'

interface Options {
  mode: Mode
  backends: ('sqlite' | 'postgres')[]
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
  ratio: number | null
  /** The baseline's req/s measured just before this row: the ratio's denominator. */
  baselineRps: number
  target: string
  met: boolean | null
  note?: string
}

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

const TARGETS: Record<string, { ratio?: number; note: string }> = {
  'token/new': { ratio: 0.4, note: '≥ 0.40' },
  'guest_session/new': { ratio: 0.4, note: '≥ 0.40' },
  'GET /3/account': { ratio: 0.45, note: '≥ 0.45' },
  'session/new': { ratio: 0.3, note: '≥ 0.30' },
  'DELETE session': { note: 'p99 < 15 ms' },
  validate_with_login: { note: '≥ 0.90 of raw argon2id' },
}
const PG_TARGETS: Record<string, number> = { 'token/new': 0.15, 'GET /3/account': 0.15 }
const P99_LIMIT_MS = 15
const RSS_LIMIT_MB = 150

const rows: Row[] = []
const skipped: string[] = []
let baselineRps = 0
let argon2PerSecond = 0
// Password hashes the server runs at once (its default for the server core, or CINEPASS_HASH_CONCURRENCY).
let hashConcurrency = 1

function addRow(partial: Omit<Row, 'ratio' | 'met' | 'target' | 'baselineRps'> & { target?: string; ratio?: number | null; met?: boolean | null }): Row {
  const row: Row = { ratio: null, target: '', met: null, baselineRps, ...partial }
  rows.push(row)
  log(
    `  ${row.backend.padEnd(8)} ${row.endpoint.padEnd(34)} w${row.workers} ${String(Math.round(row.reqPerSec)).padStart(7)} req/s  p50 ${row.p50Ms.toFixed(2)} ms  p99 ${row.p99Ms.toFixed(2)} ms  rss ${row.peakRssMb ?? '?'} MB  ratio ${row.ratio?.toFixed(2) ?? '-'}  ${row.target} ${row.met === null ? '' : row.met ? 'met' : 'NOT MET'}${row.errors ? `  errors ${row.errors}` : ''}`,
  )
  return row
}

function measured(m: Measurement): { reqPerSec: number; p50Ms: number; p99Ms: number; errors: number } {
  return { reqPerSec: m.requests / (m.duration_us / 1e6), p50Ms: m.p50_us / 1000, p99Ms: m.p99_us / 1000, errors: m.non2xx + m.socket_errors }
}

/** Ratio target, p99 and RSS limits together. */
function judge(
  row: Omit<Row, 'met' | 'target' | 'ratio' | 'baselineRps'>,
  ratioTarget: number | undefined,
  note: string,
): Pick<Row, 'ratio' | 'target' | 'met'> {
  const ratio = baselineRps > 0 ? row.reqPerSec / baselineRps : null
  const p99ok = row.p99Ms < P99_LIMIT_MS
  const rssOk = row.peakRssMb === null || row.peakRssMb < RSS_LIMIT_MB
  const ratioOk = ratioTarget === undefined || (ratio !== null && ratio >= ratioTarget)
  return { ratio, target: `${note}; p99 < ${P99_LIMIT_MS} ms; RSS < ${RSS_LIMIT_MB} MB`, met: ratioOk && p99ok && rssOk && row.errors === 0 }
}

let baseline: { server: Server; list: string } | undefined

/** Starts the bare server (kept running, idle between measurements) and measures it once for the table. */
async function startBaseline(): Promise<void> {
  const port = await freePort()
  const server = await startProcess([...serverCpu, process.execPath, join(ROOT, 'bench/baseline-server.mjs'), String(port)], {}, port)
  const list = writeList('baseline', ['GET\t/3/authentication/token/new'])
  baseline = { server, list }
  if (timing.warmup) await drive(server.base, list, timing.warmup, options.connections)
  const m = measured(await drive(server.base, list, timing.seconds, options.connections))
  baselineRps = m.reqPerSec
  addRow({
    backend: 'node:http',
    endpoint: 'baseline (fixed JSON body)',
    workers: 1,
    connections: options.connections,
    ...m,
    peakRssMb: peakRssMb(server.pid),
    ratio: 1,
    target: 'the physical limit',
    met: null,
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

const CEILING_BLOCKS = { select: 'one indexed SELECT', insert: 'one group-committed INSERT' } as const
const ceilingRps: Record<keyof typeof CEILING_BLOCKS, number> = { select: 0, insert: 0 }
/** What each SQLite row needs at least: the session check a SELECT, the others a durable INSERT. */
const CEILING_OF: Partial<Record<Endpoint, keyof typeof ceilingRps>> = {
  'token/new': 'insert',
  'guest_session/new': 'insert',
  'GET /3/account': 'select',
  'session/new': 'insert',
  'DELETE session': 'insert',
}

/**
 * The building blocks alone, on the server core: one indexed SELECT, and one group-committed INSERT of a
 * random key, each behind bare `node:http` and behind Fastify with nothing else (bench/ceiling-server.mjs).
 * They bound what a cinepass row can reach, which also does an API-key check, hashes its secrets,
 * writes an access line and sends TMDB's headers; the table shows them beside the targets.
 */
async function benchCeilings(): Promise<void> {
  const keys = Array.from({ length: 5000 }, (_, i) => `GET\t/select?k=${hash('sha256', `ceiling-${i}`, 'hex')}`)
  const lists = { select: writeList('ceiling-select', keys), insert: writeList('ceiling-insert', ['GET\t/insert']) }
  const rowsToSeed = options.mode === 'smoke' ? 1000 : 200_000
  for (const framework of ['node:http', 'fastify'] as const) {
    const dir = mkdtempSync(join(work, 'ceiling-'))
    const port = await freePort()
    const server = await startProcess(
      [
        ...serverCpu,
        process.execPath,
        join(ROOT, 'bench/ceiling-server.mjs'),
        framework === 'fastify' ? 'fastify' : 'bare',
        String(port),
        join(dir, 'ceiling.db'),
        String(rowsToSeed),
      ],
      {},
      port,
    )
    try {
      for (const [block, name] of Object.entries(CEILING_BLOCKS) as [keyof typeof CEILING_BLOCKS, string][]) {
        await refreshBaseline()
        if (timing.warmup) await drive(server.base, lists[block], timing.warmup, options.connections)
        const m = measured(await drive(server.base, lists[block], timing.seconds, options.connections))
        ceilingRps[block] = Math.max(ceilingRps[block], m.reqPerSec)
        addRow({
          backend: 'ceiling',
          endpoint: `${framework} + ${name}`,
          workers: 1,
          connections: options.connections,
          ...m,
          peakRssMb: peakRssMb(server.pid),
          ratio: baselineRps > 0 ? m.reqPerSec / baselineRps : null,
          target: 'a building block alone (no target)',
          met: null,
          note: `${rowsToSeed.toLocaleString('en-US')}-row table, random 64-hex keys; no API key, hashing, access log or TMDB headers`,
        })
      }
    } finally {
      await server.stop()
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

async function benchBackend(kind: 'sqlite' | 'postgres'): Promise<void> {
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
    const perRow = Math.ceil(options.mode === 'smoke' ? 3_750 : SINGLE_USE_PER_SECOND_CEILING * timing.seconds * 1.2)
    const workerRuns = options.workers > 1 ? 1 : 0
    log(`  seeding ${kind}: ${USER_COUNT} users, ${perRow * (1 + workerRuns)} approved tokens, ${perRow * (1 + workerRuns)} sessions…`)
    const started = Date.now()
    const seeded = await seed(database.url, {
      pending: Math.ceil(argon2PerSecond * (timing.seconds + timing.warmup) * 3 + 500),
      approved: perRow * (1 + workerRuns),
      sessions: perRow * (1 + workerRuns) + ACCOUNT_SESSIONS,
    })
    log(`  seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    const half = (items: string[], second: boolean): string[] => items.slice(second ? perRow : 0, second ? 2 * perRow : perRow)
    // Lists for the single server, and others (second halves of the single-use inputs) for the workers.
    const lists = (second: boolean): Record<Endpoint, string> => {
      const lines = requestLines(seeded, {
        approvedTokens: half(seeded.approvedTokens, second),
        deleteSessions: half(seeded.sessions, second),
        // Its own sessions, which no DELETE row touches.
        accountSessions: seeded.sessions.slice(-ACCOUNT_SESSIONS),
      })
      return Object.fromEntries(ENDPOINTS.map((endpoint) => [endpoint, writeList(`${endpointSlug(endpoint)}-${kind}-${second}`, lines[endpoint])])) as Record<
        Endpoint,
        string
      >
    }

    const server = await startCinepass(database.url, 1, true)
    let tokenIdleP99 = 0
    try {
      const l = lists(false)
      if (timing.warmup) {
        await drive(server.base, l['token/new'], timing.warmup, options.connections)
        await drive(server.base, l['GET /3/account'], timing.warmup, options.connections)
      }
      // The single-use rows get their warmup from the lists' spare inputs.
      const order = ['token/new', 'guest_session/new', 'GET /3/account', 'session/new', 'DELETE session'] as const
      for (const endpoint of order) {
        await refreshBaseline()
        const m = measured(await drive(server.base, l[endpoint], timing.seconds, options.connections))
        if (endpoint === 'token/new') tokenIdleP99 = m.p99Ms
        const base = { backend: kind, endpoint, workers: 1, connections: options.connections, ...m, peakRssMb: peakRssMb(server.pid) }
        const ratioTarget = kind === 'postgres' ? PG_TARGETS[endpoint] : TARGETS[endpoint]!.ratio
        const note = ratioTarget !== undefined ? `≥ ${ratioTarget.toFixed(2)}` : 'p99 only'
        const block = kind === 'sqlite' ? CEILING_OF[endpoint] : undefined
        const ofCeiling =
          block && ceilingRps[block] > 0
            ? `${(m.reqPerSec / ceilingRps[block]).toFixed(2)} of its ceiling (the faster "${CEILING_BLOCKS[block]}" row)`
            : undefined
        addRow({ ...base, ...judge(base, ratioTarget, note), note: ofCeiling })
      }

      // Login: argon2-bound. Judged against the raw hashes/s of this machine, not the baseline.
      await benchArgon2()
      const loginConnections = Math.min(options.connections, 48)
      const login = measured(await drive(server.base, l.validate_with_login, timing.seconds, loginConnections))
      const loginRatio = argon2PerSecond > 0 ? login.reqPerSec / argon2PerSecond : null
      addRow({
        backend: kind,
        endpoint: 'validate_with_login',
        workers: 1,
        connections: loginConnections,
        ...login,
        peakRssMb: peakRssMb(server.pid),
        ratio: loginRatio,
        target: `≥ 0.90 of raw argon2id (${argon2PerSecond.toFixed(0)}/s); RSS < ${RSS_LIMIT_MB} MB`,
        met: loginRatio !== null && loginRatio >= 0.9 && login.errors === 0 && (peakRssMb(server.pid) ?? 0) < RSS_LIMIT_MB,
        note: 'ratio is to raw argon2id hashes/s, not to the baseline; p99 is queueing behind the hash cap',
      })

      // token/new while logins run: the event loop must stay responsive while hashes run.
      await refreshBaseline()
      const background = drive(server.base, l.validate_with_login, timing.seconds + 1, 16)
      await new Promise((r) => setTimeout(r, 300))
      const mixed = measured(await drive(server.base, l['token/new'], timing.seconds, options.connections - 16))
      await background
      const limit = Math.max(2 * tokenIdleP99, 0)
      addRow({
        backend: kind,
        endpoint: 'token/new during login load',
        workers: 1,
        connections: options.connections - 16,
        ...mixed,
        peakRssMb: peakRssMb(server.pid),
        ratio: baselineRps > 0 ? mixed.reqPerSec / baselineRps : null,
        target: `p99 < 2 × idle p99 (${limit.toFixed(2)} ms)`,
        met: mixed.p99Ms < limit && mixed.errors === 0,
        note: '16 connections of validate_with_login run beside it',
      })
    } finally {
      await server.stop()
    }

    await benchEnumeration(kind, database.url, seeded)

    if (workerRuns) {
      const clustered = await startCinepass(database.url, options.workers, false)
      try {
        const l = lists(true)
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
            met: null,
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
    pinned: pinned ? 'server on CPU 0, load generator on CPU 1 (taskset)' : 'not pinned (one core)',
  }
}

function markdown(report: Report): string {
  const fmt = (n: number | null, digits = 2): string => (n === null ? '–' : n.toFixed(digits))
  const lines = [
    `| backend | endpoint | workers | conns | req/s | p50 ms | p99 ms | peak RSS MB | ratio | target | met? |`,
    `|---|---|---|---|---|---|---|---|---|---|---|`,
    ...report.rows.map(
      (r) =>
        `| ${r.backend} | ${r.endpoint} | ${r.workers} | ${r.connections} | ${Math.round(r.reqPerSec)} | ${fmt(r.p50Ms)} | ${fmt(r.p99Ms)} | ${r.peakRssMb ?? '–'} | ${fmt(r.ratio)} | ${r.target} | ${r.met === null ? '' : r.met ? 'yes' : '**no**'}${r.errors ? ` (${r.errors} errors)` : ''}${r.note ? ` — ${r.note}` : ''} |`,
    ),
  ]
  const m = report.machine
  return [
    `Benchmark (${report.mode} mode, ${report.secondsPerRow} s per row), ${report.date}`,
    '',
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, Node ${m.node}, ${m.loadGenerator}; ${m.pinned}. Load average before the run: ${report.loadBefore.join(' ')}, after: ${report.loadAfter.join(' ')}.`,
    `Raw argon2id on the server core: ${report.argon2PerSecond.toFixed(1)} hashes/s.`,
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
  if (options.backends.includes('sqlite')) await benchCeilings()
  for (const backend of options.backends) await benchBackend(backend)
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
  writeFileSync(join(options.out, 'latest.svg'), renderChart(report.rows))
  process.stdout.write(`\n${md}`)
  const judged = rows.filter((r) => r.met !== null)
  process.stdout.write(`${judged.filter((r) => r.met).length} of ${judged.length} targets met; results in ${options.out}\n`)
}

await main()
