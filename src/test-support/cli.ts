import { spawn } from 'node:child_process'
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
export function cinepassProcess(args: string[], options: { stdin?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CliRun & { ms: number }> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BUILT_CLI, ...args], {
      env: { ...process.env, ...options.env },
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, 'SIGKILL')
    }, options.timeoutMs ?? 20_000)
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, ms: Date.now() - started })
    })
    child.stdin.on('error', () => {})
    child.stdin.end(options.stdin ?? '')
  })
}
