import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/** The built CLI every test process runs (`npm run build` first; `npm test` does). */
export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))

// Every server this test process started: a test that fails or times out must not leave one running.
const started = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of started) child.kill('SIGKILL')
})

export interface ServerProcess {
  /** `http://127.0.0.1:PORT` */
  url: string
  child: ChildProcess
  /** The last stdout and stderr lines (at most 500). */
  output: string[]
  /** Calls `listener` with every later line of stdout and stderr (for a test that must see them all). */
  onLine(listener: (line: string) => void): void
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Sends a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/**
 * Starts `node dist/cli/main.js serve` on 127.0.0.1 (on `port`, or any free one) and resolves with its URL
 * once it logs that it listens.
 */
export async function spawnServer(database: string, env: NodeJS.ProcessEnv = {}, port = 0): Promise<ServerProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', String(port), '--no-demo', '--database', database], {
    // The 'cinepass listening' line is logged at info: the level stays there.
    // Every load comes from 127.0.0.1: the per-address API limit (tested on its own) is off unless a
    // test sets it.
    env: { ...process.env, NODE_ENV: 'production', CINEPASS_SIGNUP: 'open', CINEPASS_RATE_LIMIT: '0', ...env, CINEPASS_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  started.add(child)
  child.once('exit', () => started.delete(child))
  const output: string[] = []
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  const listeners: ((line: string) => void)[] = []
  const keep = (line: string): void => {
    output.push(line)
    if (output.length > 500) output.shift()
    for (const listener of listeners) listener(line)
  }
  createInterface({ input: child.stderr }).on('line', keep)
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      keep(line)
      if (!line.includes('cinepass listening')) return
      try {
        resolve((JSON.parse(line) as { url: string }).url)
      } catch (error) {
        reject(error)
      }
    })
    void exited.then(({ code, signal }) => reject(new Error(`server exited (${code ?? signal}) before listening:\n${output.join('\n')}`)))
  })
  return {
    url,
    child,
    output,
    onLine: (listener) => void listeners.push(listener),
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

/** Runs the CLI to completion; `input`, when given, is its standard input. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  })
  if (input !== undefined) child.stdin!.end(input)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)))
  return { code, stdout, stderr }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for servers that cannot take port 0). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}
