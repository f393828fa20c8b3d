import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { MAX_DEFAULT_HASH_CONCURRENCY } from '../core/hash-limits.js'
import { temporaryDirectory } from '../test-support/fixtures.js'

const DIST = fileURLToPath(new URL('../../dist/cli/', import.meta.url))
const HAS_PROC = existsSync('/proc/self/task')
if (!HAS_PROC) console.warn('threadpool.test.ts: skipped, this system has no /proc/<pid>/task to count threads in')

/** Starts `cinepass serve` through `entry`, counts the process's threads once it listens, stops it. */
async function threadsOf(entry: string, env: NodeJS.ProcessEnv): Promise<number> {
  return (await nicesOf(entry, env)).length
}

/** Starts `cinepass serve` through `entry` and reads the nice value of each of its threads once it listens. */
async function nicesOf(entry: string, env: NodeJS.ProcessEnv): Promise<number[]> {
  // Field 19 of /proc/<pid>/task/<tid>/stat is the nice value (the command name before it has no spaces here).
  return whileServing([process.execPath, join(DIST, entry)], env, (pid) =>
    readdirSync(`/proc/${pid}/task`).map((tid) => Number(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(' ')[18])),
  )
}

/** Runs `command serve` on a new database, reads `read(pid)` once it listens, and stops it. */
async function whileServing<T>(command: string[], env: NodeJS.ProcessEnv, read: (pid: number) => T): Promise<T> {
  const dir = temporaryDirectory()
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env }
  delete childEnv.UV_THREADPOOL_SIZE
  const child = spawn(command[0]!, [...command.slice(1), 'serve', '--port', '0', '--no-demo', '--database', join(dir.path, 'c.db')], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  try {
    await new Promise<void>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString()
        if (out.includes('cinepass listening')) resolve()
      })
      child.once('exit', (code) => reject(new Error(`cinepass exited with ${code}`)))
    })
    return read(child.pid!)
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
    dir.remove()
  }
}

describe('the cinepass entry point', () => {
  it.skipIf(!HAS_PROC)(
    'sizes the libuv threadpool above the hashing cap (CINEPASS_HASH_CONCURRENCY + 4) before the pool starts',
    async () => {
      const env = { CINEPASS_HASH_CONCURRENCY: '3', NODE_ENV: 'production' }
      // The same server started without the CommonJS entry gets libuv's default pool of 4 threads.
      const [entry, plain] = [await threadsOf('cinepass.cjs', env), await threadsOf('main.js', env)]
      expect(entry - plain).toBe(3 + 4 - 4)
    },
    60_000,
  )

  it('sizes the pool for the same default hashing cap as the hasher uses', () => {
    const entry = readFileSync(join(DIST, 'cinepass.cjs'), 'utf8')
    expect(Number(/const MAX_DEFAULT_HASH_CONCURRENCY = (\d+)/.exec(entry)?.[1])).toBe(MAX_DEFAULT_HASH_CONCURRENCY)
  })

  it.skipIf(!HAS_PROC)(
    'lowers the priority of the threadpool, where hashes run, and of the WAL checkpointer to CINEPASS_HASH_NICE, and leaves the event loop alone',
    async () => {
      const nices = await nicesOf('cinepass.cjs', { CINEPASS_HASH_CONCURRENCY: '2', CINEPASS_HASH_NICE: '7', NODE_ENV: 'production' })
      // The pool is 2 + 4 threads, and SQLite's WAL checkpointer thread is background work too; the main
      // thread and V8's keep nice 0.
      expect(nices.filter((nice) => nice === 7)).toHaveLength(2 + 4 + 1)
      expect(nices.filter((nice) => nice === 0).length).toBeGreaterThanOrEqual(1)
      expect(nices.filter((nice) => nice !== 0 && nice !== 7)).toEqual([])
    },
    60_000,
  )

  it.skipIf(!HAS_PROC)(
    'starts Node with the V8 memory flags of its first line, which `npm start` passes too',
    async () => {
      const entry = join(DIST, 'cinepass.cjs')
      const flags = /^#!\/usr\/bin\/env -S node (.+)$/.exec(readFileSync(entry, 'utf8').split('\n', 1)[0]!)?.[1]?.split(' ')
      expect(flags?.length).toBeGreaterThan(0)
      // Run as a command (npx, a bin link), so the kernel reads that first line.
      const commandLine = await whileServing([entry], { NODE_ENV: 'production' }, (pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'))
      expect(commandLine.slice(1, 1 + flags!.length)).toEqual(flags)
      const packageJson = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { scripts: { start: string } }
      expect(packageJson.scripts.start).toBe(`node ${flags!.join(' ')} dist/cli/cinepass.cjs serve`)
    },
    60_000,
  )
})
