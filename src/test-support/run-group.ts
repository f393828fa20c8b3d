import { spawn } from 'node:child_process'

export interface GroupRun {
  code: number | null
  /** stdout and stderr, interleaved as they came. */
  output: string
}

/**
 * Runs a command in a process group of its own and resolves when it exits. Past `timeoutMs` the whole
 * group is killed (test runners and servers start children of their own) and the run resolves with
 * code null; so does a test's wait.
 */
export function runInGroup(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<GroupRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const killGroup = (): void => {
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {
        // Already gone.
      }
    }
    const timer = setTimeout(killGroup, options.timeoutMs)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      // Whatever the command left behind (a server started in the background) goes with it.
      killGroup()
      resolve({ code, output })
    })
  })
}
