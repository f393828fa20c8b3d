import { spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { temporaryDirectory } from '../test-support/fixtures.js'

const DIST = fileURLToPath(new URL('../../dist/cli/', import.meta.url))
const HAS_PROC = existsSync('/proc/self/task')
if (!HAS_PROC) console.warn('threadpool.test.ts: skipped, this system has no /proc/<pid>/task to count threads in')

/** Starts `cinepass serve` through `entry`, counts the process's threads once it listens, stops it. */
async function threadsOf(entry: string, env: NodeJS.ProcessEnv): Promise<number> {
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
    return readdirSync(`/proc/${child.pid}/task`).length
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
})
