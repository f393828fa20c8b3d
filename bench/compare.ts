/**
 * `npm run bench:compare`: which of two builds does less work per request. On a shared machine the
 * figures of one run can differ from the next by a third, far more than most changes are worth; what
 * stays put is the ratio of two servers measured in the same minute. So both builds serve at once (on
 * the server core, each on a database of its own), wrk drives them in alternating bursts, and the
 * median of the paired ratios of server CPU time per request is the answer. Throughput and p99 are
 * printed too, but they move with the load generator and the machine; CPU per request moves less.
 *
 *   npm run bench:compare -- <checkout A> <checkout B> [--endpoints token/new,GET /3/account (the default)]
 *                            [--pairs 10] [--seconds 2] [--backend sqlite|postgres] [--connections 50]
 *
 * A checkout is a folder with a built `dist/`, e.g. the previous commit:
 *   git worktree add /tmp/before HEAD~1 && ln -s "$PWD/node_modules" /tmp/before/ && (cd /tmp/before && npx tsc -p tsconfig.build.json)
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import {
  ACCOUNT_SESSIONS,
  commaList,
  cpuMicros,
  createDatabase,
  drive,
  endpointSlug,
  ENDPOINTS,
  log,
  positiveNumber,
  requestLines,
  seed,
  SINGLE_USE_PER_SECOND_CEILING,
  startCinepass,
  writeList,
  type Database,
  type Endpoint,
  type Server,
} from './harness.js'

interface Options {
  checkouts: [string, string]
  endpoints: Endpoint[]
  pairs: number
  seconds: number
  backend: 'sqlite' | 'postgres'
  connections: number
}

function parseOptions(argv: string[]): Options {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      endpoints: { type: 'string', default: 'token/new,GET /3/account' },
      pairs: { type: 'string', default: '10' },
      seconds: { type: 'string', default: '2' },
      backend: { type: 'string', default: 'sqlite' },
      connections: { type: 'string', default: '50' },
    },
  })
  if (positionals.length !== 2) throw new Error('give two checkouts to compare (see bench/compare.ts)')
  const checkouts = positionals.map((checkout) => resolve(checkout)) as [string, string]
  for (const checkout of checkouts) if (!existsSync(`${checkout}/dist/cli/cinepass.cjs`)) throw new Error(`${checkout} has no build (dist/cli/cinepass.cjs)`)
  const comparable: readonly Endpoint[] = ENDPOINTS.filter((e) => e !== 'validate_with_login')
  const endpoints = commaList(values.endpoints) as Endpoint[]
  for (const endpoint of endpoints) if (!comparable.includes(endpoint)) throw new Error(`cannot compare ${endpoint}: one of ${comparable.join(', ')}`)
  if (values.backend !== 'sqlite' && values.backend !== 'postgres') throw new Error(`unknown backend ${values.backend}`)
  return {
    checkouts,
    endpoints,
    pairs: positiveNumber('--pairs', values.pairs),
    seconds: positiveNumber('--seconds', values.seconds),
    backend: values.backend,
    connections: positiveNumber('--connections', values.connections),
  }
}

/** One burst on one server: its CPU time per request over the burst. */
interface Burst {
  cpuMicrosPerRequest: number
  reqPerSec: number
  p99Ms: number
  errors: number
}

interface Side {
  checkout: string
  database: Database
  server: Server
  /** The request list of an endpoint's burst: single-use endpoints get fresh inputs for every burst. */
  listFor(endpoint: Endpoint, burstIndex: number): string
}

const SINGLE_USE: Endpoint[] = ['session/new', 'DELETE session']

async function prepare(checkout: string, label: string, options: Options): Promise<Side> {
  // Each side runs a warm-up burst and one burst per pair.
  const bursts = options.pairs + 1
  const perBurst = SINGLE_USE_PER_SECOND_CEILING * options.seconds
  const singleUse = options.endpoints.some((e) => SINGLE_USE.includes(e)) ? perBurst * bursts : 0
  const database = await createDatabase(options.backend, checkout)
  log(`  ${label}: seeding ${singleUse} approved tokens and ${singleUse} sessions with ${checkout}'s build…`)
  const seeded = await seed(database.url, { pending: 0, approved: singleUse, sessions: singleUse + ACCOUNT_SESSIONS }, checkout)
  // One line per input, so a burst's slice of a single-use list is a slice of its inputs.
  const lines = requestLines(seeded, {
    approvedTokens: seeded.approvedTokens,
    deleteSessions: seeded.sessions.slice(0, singleUse),
    accountSessions: seeded.sessions.slice(-ACCOUNT_SESSIONS),
  })
  const shared = new Map<Endpoint, string>()
  const listFor = (endpoint: Endpoint, burstIndex: number): string => {
    const name = `${label}-${endpointSlug(endpoint)}`
    if (SINGLE_USE.includes(endpoint)) return writeList(`${name}-${burstIndex}`, lines[endpoint].slice(burstIndex * perBurst, (burstIndex + 1) * perBurst))
    if (!shared.has(endpoint)) shared.set(endpoint, writeList(name, lines[endpoint]))
    return shared.get(endpoint)!
  }
  const server = await startCinepass(database.url, 1, true, {}, checkout)
  return { checkout, database, server, listFor }
}

async function burst(side: Side, endpoint: Endpoint, burstIndex: number, options: Options): Promise<Burst> {
  const list = side.listFor(endpoint, burstIndex)
  const before = cpuMicros(side.server.pid)
  const m = await drive(side.server.base, list, options.seconds, options.connections)
  const used = cpuMicros(side.server.pid) - before
  return {
    cpuMicrosPerRequest: used / Math.max(1, m.requests),
    reqPerSec: m.requests / (m.duration_us / 1e6),
    p99Ms: m.p99_us / 1000,
    errors: m.non2xx + m.socket_errors,
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  log(
    `comparing A = ${options.checkouts[0]} with B = ${options.checkouts[1]} on ${options.backend}: ${options.pairs} pairs of ${options.seconds} s bursts per endpoint`,
  )
  const sides: Side[] = []
  try {
    for (const [index, checkout] of options.checkouts.entries()) sides.push(await prepare(checkout, index === 0 ? 'A' : 'B', options))
    const [a, b] = sides as [Side, Side]
    const lines = [
      '| endpoint | A µs CPU/req | B µs CPU/req | B/A (median of pairs) | B/A range | A req/s | B req/s | A p99 ms | B p99 ms | errors |',
      '|---|---|---|---|---|---|---|---|---|---|',
    ]
    for (const endpoint of options.endpoints) {
      // Warm both (JIT, page cache) before anything counts.
      let bursts = 0
      const next = (side: Side): Promise<Burst> => burst(side, endpoint, Math.floor(bursts++ / 2), options)
      await next(a)
      await next(b)
      const pairs: [Burst, Burst][] = []
      for (let i = 0; i < options.pairs; i++) {
        // Alternate which goes first, so a drift within a pair favours neither.
        if (i % 2 === 0) {
          const first = await next(a)
          pairs.push([first, await next(b)])
        } else {
          const first = await next(b)
          pairs.push([await next(a), first])
        }
      }
      const ratios = pairs.map(([x, y]) => y.cpuMicrosPerRequest / x.cpuMicrosPerRequest)
      const of = (side: 0 | 1, key: keyof Burst): number => median(pairs.map((pair) => pair[side][key]))
      const errors = pairs.reduce((sum, [x, y]) => sum + x.errors + y.errors, 0)
      const line = `| ${endpoint} | ${of(0, 'cpuMicrosPerRequest').toFixed(1)} | ${of(1, 'cpuMicrosPerRequest').toFixed(1)} | **${median(ratios).toFixed(3)}** | ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)} | ${Math.round(of(0, 'reqPerSec'))} | ${Math.round(of(1, 'reqPerSec'))} | ${of(0, 'p99Ms').toFixed(1)} | ${of(1, 'p99Ms').toFixed(1)} | ${errors} |`
      log(line)
      lines.push(line)
    }
    process.stdout.write(`\n${lines.join('\n')}\n\nB/A below 1: B spends less server CPU per request. Medians over ${options.pairs} pairs.\n`)
  } finally {
    for (const side of sides) {
      await side.server.stop()
      await side.database.remove()
    }
  }
}

await main()
