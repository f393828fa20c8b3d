import { execFile } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort } from './processes.js'

const run = promisify(execFile)

/** A PostgreSQL server of a test's own: its own data folder and port, stopped and started at will. */
export interface ThrowawayPostgres {
  /** postgres:// URL of its `postgres` database (trust auth). */
  url: string
  port: number
  /** Starts the server and waits until it accepts connections. */
  start(): Promise<void>
  /** Stops it at once (`-m immediate`: no checkpoint, recovery from the WAL on the next start). */
  stop(): Promise<void>
  /**
   * Freezes every process of the server (SIGSTOP): it keeps its connections and port open but answers
   * nothing, like a hung server or a network that drops packets. `thaw()` (SIGCONT) resumes it.
   */
  freeze(): Promise<void>
  thaw(): Promise<void>
  /** Stops it if running and deletes its folder. */
  remove(): Promise<void>
}

/** The PostgreSQL server binaries of the newest installed version, or null. */
export function postgresBinaries(): string | null {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return null
  const versions = readdirSync(root)
    .filter((version) => existsSync(join(root, version, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
  return versions.length > 0 ? join(root, versions[0]!, 'bin') : null
}

/**
 * initdb into a new temporary folder and start the server on a free port. PostgreSQL refuses to run
 * as root: as root, the folder is given to the `postgres` user and every command runs as that user.
 */
export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const bin = postgresBinaries()
  if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql')
  const asRoot = process.getuid?.() === 0
  let owner: { uid: number; gid: number } | undefined
  if (asRoot) {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])])
    owner = { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
  }
  const dir = mkdtempSync(join(tmpdir(), 'cinepass-pg-'))
  if (owner) chownSync(dir, owner.uid, owner.gid)
  const data = join(dir, 'data')
  const pgTool = (tool: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]) : run(join(bin, tool), args))
  await pgTool('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '--no-instructions'])
  const port = await freePort()
  let running = false
  // The postmaster's pid is the first line of postmaster.pid; its children are the backends and helpers.
  const signalServer = (signal: NodeJS.Signals): Promise<void> => {
    const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0])
    const children = readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .filter((pid) => {
        try {
          // The field after the parenthesised command name: state, then the parent's pid.
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
          return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster
        } catch {
          return false
        }
      })
      .map(Number)
    for (const pid of [postmaster, ...children]) process.kill(pid, signal)
    return Promise.resolve()
  }
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=100`
  const instance: ThrowawayPostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start: async () => {
      await pgTool('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-o', options, '-w', '-t', '60', 'start'])
      running = true
    },
    stop: async () => {
      await pgTool('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
      running = false
    },
    freeze: () => signalServer('SIGSTOP'),
    thaw: () => signalServer('SIGCONT'),
    remove: async () => {
      if (running) {
        await instance.thaw().catch(() => {})
        await instance.stop().catch(() => {})
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
  await instance.start()
  return instance
}
