import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { temporaryDirectory } from '../src/test-support/fixtures.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const TSX = join(ROOT, 'node_modules/.bin/tsx')

async function runTsx(args: string[]): Promise<{ code: number | null; output: string; stdout: string }> {
  const child = spawn(TSX, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  let stdout = ''
  child.stdout.on('data', (chunk: Buffer) => ((output += chunk.toString()), (stdout += chunk.toString())))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { code, output, stdout }
}

// The benchmark in its quickest mode: it must run to the end and write its three files. Its figures
// are not judged here (a test machine is no benchmark machine); `npm run bench` judges them.
describe('npm run bench -- --smoke', () => {
  it('runs every row and writes latest.json, latest.md, summary.md and latest.svg', async () => {
    const out = temporaryDirectory('cinepass-bench-smoke-')
    try {
      const { code, output } = await runTsx(['bench/run.ts', '--smoke', '--workers', '2', '--out', out.path])
      expect(code, output).toBe(0)
      for (const file of ['latest.json', 'latest.md', 'summary.md', 'latest.svg']) expect(existsSync(join(out.path, file)), file).toBe(true)
      const report = JSON.parse(readFileSync(join(out.path, 'latest.json'), 'utf8')) as {
        rows: {
          backend: string
          endpoint: string
          workers: number
          reqPerSec: number
          errors: number
          ratios: { of: string; value: number | null; min: number }[]
          openLoop?: { sent: number; completed: number; p99_us: number }
        }[]
        enumeration: { backend: string; unknownUserMedianMs: number; wrongPasswordMedianMs: number }[]
      }
      const endpoints = new Set(report.rows.map((row) => row.endpoint))
      for (const endpoint of [
        'baseline (fixed JSON body)',
        'GET /3/authentication',
        'token/new',
        'guest_session/new',
        'validate_with_login',
        'session/new',
        'GET /3/account',
        'DELETE session',
        'token/new during login load',
      ]) {
        expect(endpoints.has(endpoint), endpoint).toBe(true)
      }
      expect(report.rows.some((row) => row.workers === 2)).toBe(true)
      // Both backends by default (PostgreSQL is required in CI), and the enumeration medians side by side.
      const backends = process.env.CI ? ['sqlite', 'postgres'] : ['sqlite']
      // The building blocks alone, each answering every request, and each backend's rows set against its own.
      for (const backend of backends) {
        for (const framework of backend === 'sqlite' ? ['node:http', 'fastify'] : ['node:http']) {
          for (const block of ['one indexed SELECT', 'one group-committed INSERT']) {
            const ceiling = report.rows.find((row) => row.backend === `${backend} ceiling` && row.endpoint === `${framework} + ${block}`)
            expect(ceiling?.errors, `${backend} ${framework} + ${block}`).toBe(0)
          }
        }
        const account = report.rows.find((row) => row.backend === backend && row.endpoint === 'GET /3/account' && row.workers === 1)
        expect(account?.ratios.map((r) => [r.of, r.min])).toEqual([
          ['bare', 0.4],
          ['select', 0.85],
        ])
        expect(account?.ratios.every((r) => r.value !== null && r.value > 0)).toBe(true)
        // Every single-statement row has its open-loop phase, which sent what it scheduled and got answers.
        for (const endpoint of ['GET /3/authentication', 'token/new', 'guest_session/new', 'GET /3/account', 'session/new', 'DELETE session']) {
          const open = report.rows.find((row) => row.backend === backend && row.endpoint === endpoint && row.workers === 1)?.openLoop
          expect(open?.completed, `${backend} ${endpoint}`).toBeGreaterThan(0)
          expect(open?.p99_us, `${backend} ${endpoint}`).toBeGreaterThan(0)
        }
        expect(
          report.rows.some((row) => row.backend === backend && row.endpoint === 'token/new'),
          backend,
        ).toBe(true)
        expect(report.enumeration.find((row) => row.backend === backend)?.wrongPasswordMedianMs).toBeGreaterThan(0)
      }
      expect(report.rows.every((row) => row.reqPerSec > 0)).toBe(true)
      expect(readFileSync(join(out.path, 'latest.md'), 'utf8')).toContain('| sqlite | token/new |')
      expect(readFileSync(join(out.path, 'summary.md'), 'utf8')).toMatch(
        /^\| sqlite \| GET \/3\/account \| \d+ \| \d\.\d\d of bare, \d\.\d\d of SELECT ceiling \| \d+\.\d\d \| /m,
      )
      expect(readFileSync(join(out.path, 'latest.svg'), 'utf8')).toMatch(/^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
    } finally {
      out.remove()
    }
  }, 240_000)
})

// The build comparison, this checkout against itself: it must finish with a row per endpoint, and a
// single-use endpoint must get fresh inputs in every burst (a reused one would answer 404: errors).
describe('npm run bench:compare', () => {
  it('compares two builds endpoint by endpoint, with fresh single-use inputs for every burst', async () => {
    const { code, output, stdout } = await runTsx(['bench/compare.ts', '.', '.', '--pairs', '2', '--seconds', '1', '--endpoints', 'token/new,DELETE session'])
    expect(code, output).toBe(0)
    for (const endpoint of ['token/new', 'DELETE session']) {
      const row = stdout.split('\n').find((line) => line.startsWith(`| ${endpoint} |`))
      expect(row, output).toBeDefined()
      const cells = row!.split('|').map((cell) => cell.trim())
      // endpoint, A µs, B µs, **ratio**, range, A req/s, B req/s, A p99, B p99, errors
      expect(Number(cells[2]), row).toBeGreaterThan(0)
      expect(Number(cells[4]!.replaceAll('*', '')), row).toBeGreaterThan(0)
      expect(cells[10], row).toBe('0')
    }
  }, 180_000)
})
