import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
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
  const dir = temporaryDirectory()
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env }
  delete childEnv.UV_THREADPOOL_SIZE
  const child = spawn(process.execPath, [join(DIST, entry), 'serve', '--port', '0', '--no-demo', '--database', join(dir.path, 'c.db')], {
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
    // Field 19 of /proc/<pid>/task/<tid>/stat is the nice value (the command name before it has no spaces here).
    return readdirSync(`/proc/${child.pid}/task`).map((tid) => Number(readFileSync(`/proc/${child.pid}/task/${tid}/stat`, 'utf8').split(' ')[18]))
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
    dir.remove()
  }
}

describe('the cinepass entry point', () => {
  it.skipIf(!HAS_PROC)('sizes the libuv threadpool above the hashing cap (CINEPASS_HASH_CONCURRENCY + 4) before the pool starts', async () => {
    const env = { CINEPASS_HASH_CONCURRENCY: '3', NODE_ENV: 'production' }
    // The same server started without the CommonJS entry gets libuv's default pool of 4 threads.
    const [entry, plain] = [await threadsOf('cinepass.cjs', env), await threadsOf('main.js', env)]
    expect(entry - plain).toBe(3 + 4 - 4)
  }, 60_000)

  it.skipIf(!HAS_PROC)('lowers the priority of the threadpool, where hashes run, and of the WAL checkpointer to CINEPASS_HASH_NICE, and leaves the event loop alone', async () => {
    const nices = await nicesOf('cinepass.cjs', { CINEPASS_HASH_CONCURRENCY: '2', CINEPASS_HASH_NICE: '7', NODE_ENV: 'production' })
    // The pool is 2 + 4 threads, and SQLite's WAL checkpointer thread is background work too; the main
    // thread and V8's keep nice 0.
    expect(nices.filter((nice) => nice === 7)).toHaveLength(2 + 4 + 1)
    expect(nices.filter((nice) => nice === 0).length).toBeGreaterThanOrEqual(1)
    expect(nices.filter((nice) => nice !== 0 && nice !== 7)).toEqual([])
  }, 60_000)
})
