import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { runCli } from '../cli/program.js'

/** What a `cinepass` run left behind. */
export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `cinepass ARGS` in this process (no build needed), with `stdin` as its standard input. */
export async function cinepassInProcess(args: string[], options: { stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliRun> {
  let stdout = ''
  let stderr = ''
  const code = await runCli(args, {
    env: { ...process.env, ...options.env },
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    stdin: Readable.from(options.stdin === undefined || options.stdin === '' ? [] : [Buffer.from(options.stdin)]),
  })
  return { code, stdout, stderr }
}

/** The built CLI, exactly as `npx cinepass` runs it (`npm run build` first). */
export const BUILT_CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))

/**
 * Runs the built `cinepass ARGS` as a process, with `stdin` as its standard input, and kills its
 * process group when it has not exited within `timeoutMs`.
 */
export function cinepassProcess(args: string[], options: ProcessOptions & { stdin?: string; timeoutMs?: number } = {}): Promise<CliRun & { ms: number }> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, options)
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, 'SIGKILL')
    }, options.timeoutMs ?? 20_000)
    child.stdout!.on('data', (chunk) => (stdout += chunk))
    child.stderr!.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, ms: Date.now() - started })
    })
    child.stdin!.on('error', () => {})
    child.stdin!.end(options.stdin ?? '')
  })
}

interface ProcessOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** The file-mode mask the process starts with (through sh's `umask`); the test runner's by default. */
  umask?: string
}

function spawnCli(args: string[], options: ProcessOptions): ChildProcess {
  const command =
    options.umask === undefined
      ? [process.execPath, BUILT_CLI, ...args]
      : ['/bin/sh', '-c', `umask ${options.umask} && exec "$0" "$@"`, process.execPath, BUILT_CLI, ...args]
  // Its own process group, so that a test can kill whatever it started.
  return spawn(command[0]!, command.slice(1), { env: { ...process.env, ...options.env }, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'], detached: true })
}

/** A running `cinepass serve`. */
export interface ServeProcess {
  url: string
  /** Its stdout lines so far (the JSON log), parsed. */
  log: Record<string, unknown>[]
  /** SIGTERM to its process group; resolves with the exit code. */
  stop(): Promise<number | null>
}

/** Starts the built `cinepass serve ARGS` and resolves once it logs that it listens (within 20 s). */
export async function serveProcess(args: string[], options: ProcessOptions = {}): Promise<ServeProcess> {
  const child = spawnCli(['serve', ...args], options)
  child.stdin!.end()
  const log: Record<string, unknown>[] = []
  let stderr = ''
  child.stderr!.on('data', (chunk) => (stderr += chunk))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGTERM')
    return exited
  }
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start within 20 s: ${stderr}`)), 20_000)
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (!line.startsWith('{')) return
        const entry = JSON.parse(line) as Record<string, unknown>
        log.push(entry)
        if (entry.msg === 'cinepass listening') {
          clearTimeout(timer)
          resolve(entry.url as string)
        }
      })
      void exited.then((code) => reject(new Error(`serve exited (${code}) before listening: ${stderr}`)))
    })
    return { url, log, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
