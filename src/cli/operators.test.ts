import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Argon2Hasher } from '../core/password.js'
import { openStore } from '../server.js'
import { BUILT_CLI, cinepassProcess, serveProcess, type CliRun } from '../test-support/cli.js'
import { temporaryDirectory } from '../test-support/fixtures.js'
import { PG_ADMIN_URL, postgresSkipReason } from '../test-support/postgres.js'

// Every case here runs the built `cinepass` as a process (`npm run build` first): how it exits, what it
// says and what it leaves on disk are the point.

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
const PG_SKIP = await postgresSkipReason('operators.test.ts')
const IS_ROOT = process.getuid?.() === 0
if (IS_ROOT) console.warn('operators.test.ts: the EACCES case is skipped, root may write anywhere')
const HAS_SCRIPT = spawnSync('script', ['--version']).status === 0
if (!HAS_SCRIPT) console.warn('operators.test.ts: the terminal prompt cases are skipped, `script` (util-linux) is missing')

const pgUrl = (database: string, user = 'postgres', password = ''): string => {
  const url = new URL(PG_ADMIN_URL)
  url.username = user
  url.password = password
  url.pathname = `/${database}`
  return url.toString()
}

/** Everything under `path`, with modes, to compare before and after. */
function snapshot(path: string): string[] {
  return readdirSync(path, { recursive: true, encoding: 'utf8' })
    .map((entry) => `${entry} ${statSync(join(path, entry)).mode.toString(8)} ${statSync(join(path, entry)).size}`)
    .sort()
}

function oneLine(run: CliRun): string {
  const lines = run.stderr.split('\n').filter(Boolean)
  expect(lines, run.stderr).toHaveLength(1)
  return lines[0]!
}

const mode = (path: string): string => (statSync(path).mode & 0o777).toString(8)

let busy: Server
let busyPort: number
beforeAll(async () => {
  busy = createServer()
  await new Promise<void>((resolve) => busy.listen({ host: '127.0.0.1', port: 0 }, resolve))
  busyPort = (busy.address() as { port: number }).port
})
afterAll(() => new Promise<void>((resolve) => busy.close(() => resolve())))

// Each case is its own process in its own folder: they run side by side.
describe.concurrent('cinepass start-up fails fast and says why', () => {
  const cases: { name: string; args: (dir: string) => string[]; env?: NodeJS.ProcessEnv; prepare?: (dir: string) => void; code: number; line: (dir: string) => RegExp | string; skip?: string | null }[] = [
    {
      name: 'serve on a port in use: EADDRINUSE, before the database is created',
      args: () => ['serve', '--port', String(busyPort), '--database', 'data/c.db'],
      code: 1,
      line: () => `cinepass: cannot listen on 127.0.0.1:${busyPort}: EADDRINUSE (address already in use)`,
    },
    {
      name: 'an unknown URL scheme: exit 2, no folder named after it, no password shown',
      args: () => ['migrate', '--database', 'postgress://ada:secret@localhost/cinepass'],
      code: 2,
      line: () =>
        'cinepass: CINEPASS_DATABASE / --database must be a SQLite file path or a postgres:// URL, not "postgress://ada:***@localhost/cinepass" (unknown URL scheme)',
    },
    {
      name: 'serve with an unknown URL scheme in CINEPASS_DATABASE',
      args: () => ['serve', '--port', '0'],
      env: { CINEPASS_DATABASE: 'sqlite://data/c.db' },
      code: 2,
      line: () => /^cinepass: CINEPASS_DATABASE \/ --database must be a SQLite file path or a postgres:\/\/ URL, not "sqlite:\/\/data\/c.db"/,
    },
    {
      name: 'a database folder that cannot be created (under /proc): ENOENT, no hang',
      args: () => ['migrate', '--database', '/proc/nope/x.db'],
      code: 1,
      line: () => 'cinepass: cannot open the database /proc/nope/x.db: ENOENT (no such file or directory: mkdir /proc/nope)',
    },
    {
      name: 'a folder given as the database: EISDIR',
      prepare: (dir) => mkdirSync(join(dir, 'folder')),
      args: () => ['migrate', '--database', 'folder'],
      code: 1,
      line: () => 'cinepass: cannot open the database folder: EISDIR (is a directory: open folder)',
    },
    {
      name: 'a database under a file: ENOTDIR',
      prepare: (dir) => writeFileSync(join(dir, 'file'), 'x'),
      args: () => ['migrate', '--database', 'file/x.db'],
      code: 1,
      line: () => /^cinepass: cannot open the database file\/x\.db: ENOTDIR \(not a directory/,
    },
    {
      name: 'a database folder the user may not write: EACCES',
      skip: IS_ROOT ? 'running as root' : null,
      prepare: (dir) => {
        mkdirSync(join(dir, 'locked'))
        chmodSync(join(dir, 'locked'), 0o500)
      },
      args: () => ['migrate', '--database', 'locked/sub/x.db'],
      code: 1,
      line: () => /^cinepass: cannot open the database locked\/sub\/x\.db: EACCES \(permission denied/,
    },
    {
      name: 'a log level pino does not have',
      args: () => ['serve', '--port', '0', '--database', 'c.db'],
      env: { CINEPASS_LOG_LEVEL: 'verbose' },
      code: 2,
      line: () => 'cinepass: CINEPASS_LOG_LEVEL must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent", not "verbose"',
    },
    {
      name: 'a PostgreSQL port nobody listens on: ECONNREFUSED',
      skip: PG_SKIP,
      args: () => ['migrate', '--database', 'postgres://postgres@127.0.0.1:1/cinepass'],
      code: 1,
      line: () => 'cinepass: cannot open the database postgres://postgres@127.0.0.1:1/cinepass: ECONNREFUSED (connection refused)',
    },
    {
      name: 'a PostgreSQL database that does not exist',
      skip: PG_SKIP,
      args: () => ['migrate', '--database', pgUrl('cinepass_absent_database')],
      code: 1,
      line: () => /: database does not exist \(database "cinepass_absent_database" does not exist\)$/,
    },
    {
      name: 'a PostgreSQL user that cannot log in: authentication failed, password redacted',
      skip: PG_SKIP,
      args: () => ['serve', '--port', '0', '--database', pgUrl('postgres', 'cinepass_nobody', 'hunter2')],
      code: 1,
      line: () => /^cinepass: cannot open the database postgres:\/\/cinepass_nobody:\*\*\*@[^ ]+: authentication failed \(/,
    },
  ]

  for (const { name, args, env, prepare, code, line, skip } of cases) {
    it.skipIf(Boolean(skip))(`${name}`, async ({ expect }) => {
      const dir = temporaryDirectory()
      try {
        prepare?.(dir.path)
        const before = snapshot(dir.path)
        const run = await cinepassProcess(args(dir.path), { cwd: dir.path, env: { NODE_ENV: 'production', ...env } })
        expect(run.code, run.stderr).toBe(code)
        const expected = line(dir.path)
        const lines = run.stderr.split('\n').filter(Boolean)
        expect(lines, run.stderr).toHaveLength(1)
        if (typeof expected === 'string') expect(lines[0]).toBe(expected)
        else expect(lines[0]).toMatch(expected)
        expect(run.stderr).not.toMatch(/secret|hunter2|\n\s+at /)
        // Fast: it takes 1–2 s here; the bound leaves room for a loaded machine, and a hang or a retry
        // loop (the process is killed at 20 s) still fails it.
        expect(run.ms).toBeLessThan(10_000)
        expect(snapshot(dir.path)).toEqual(before)
      } finally {
        // A folder made unwritable must be writable again to be removed.
        for (const entry of readdirSync(dir.path)) chmodSync(join(dir.path, entry), 0o700)
        dir.remove()
      }
    })
  }
})

describe('cinepass serve says what it runs with', () => {
  it('names version, redacted database, counter store, public URL, sign-up and demo in its first line, and warns of an unreachable public URL and Redis', async () => {
    const dir = temporaryDirectory()
    const server = await serveProcess(['--port', '0', '--no-demo', '--database', join(dir.path, 'c.db')], {
      env: { CINEPASS_HOST: '0.0.0.0', CINEPASS_REDIS_URL: 'redis://:redis-secret@127.0.0.1:1', NODE_ENV: '' },
    })
    try {
      expect(server.log[0]).toMatchObject({
        msg: 'cinepass starting',
        version: VERSION,
        database: join(dir.path, 'c.db'),
        counterStore: 'redis redis://:***@127.0.0.1:1',
        publicUrl: 'http://0.0.0.0:0',
        signup: 'open',
        demo: false,
      })
      const warnings = server.log.filter((entry) => entry.level === 40).map((entry) => entry.msg as string)
      expect(warnings).toContainEqual(expect.stringMatching(/^the public URL http:\/\/0\.0\.0\.0:0 cannot be reached from other machines, yet cinepass listens on 0\.0\.0\.0/))
      expect(warnings).toContainEqual(expect.stringMatching(/^the redis counter store cannot be reached: ECONNREFUSED .*kept in this process's memory/))
      expect(JSON.stringify(server.log)).not.toContain('redis-secret')
      // It serves all the same.
      expect((await fetch(`${server.url}/3/configuration`)).status).not.toBe(500)
      expect(await server.stop()).toBe(0)
    } finally {
      await server.stop()
      dir.remove()
    }
  })

  it('does not warn when listening on loopback, or when the public URL is set', async () => {
    const dir = temporaryDirectory()
    const server = await serveProcess(['--port', '0', '--no-demo', '--database', join(dir.path, 'c.db'), '--public-url', 'https://auth.example.test'], { env: { NODE_ENV: '' } })
    try {
      expect(server.log[0]).toMatchObject({ msg: 'cinepass starting', counterStore: "memory (this process's)", publicUrl: 'https://auth.example.test' })
      expect(server.log.filter((entry) => entry.level === 40)).toEqual([])
    } finally {
      await server.stop()
      dir.remove()
    }
  })
})

describe('cinepass serve with NODE_ENV=production', () => {
  it('closes sign-up and makes no demo, unless CINEPASS_SIGNUP=open', async () => {
    const dir = temporaryDirectory()
    try {
      const closed = await serveProcess(['--port', '0', '--database', join(dir.path, 'c.db')], { env: { NODE_ENV: 'production', CINEPASS_SIGNUP: '' } })
      expect(closed.log[0]).toMatchObject({ msg: 'cinepass starting', signup: 'closed', demo: false })
      expect((await fetch(`${closed.url}/signup`)).status).toBe(404)
      expect(await closed.stop()).toBe(0)
      const open = await serveProcess(['--port', '0', '--database', join(dir.path, 'c.db')], { env: { NODE_ENV: 'production', CINEPASS_SIGNUP: 'open' } })
      expect(open.log[0]).toMatchObject({ signup: 'open', demo: false })
      expect((await fetch(`${open.url}/signup`)).status).toBe(200)
      expect(await open.stop()).toBe(0)
      // No demo application was made on the new database.
      const apps = await cinepassProcess(['apps', 'list', '--database', join(dir.path, 'c.db'), '--json'])
      expect(JSON.parse(apps.stdout)).toEqual({ applications: [] })
    } finally {
      dir.remove()
    }
  })
})

describe('the admin CLI', () => {
  let dir: ReturnType<typeof temporaryDirectory>
  let db: string
  beforeAll(() => {
    dir = temporaryDirectory()
    db = join(dir.path, 'admin.db')
  })
  afterAll(() => dir.remove())

  it('cinepass --version prints the version of package.json', async () => {
    for (const flag of ['--version', '-V']) {
      const run = await cinepassProcess([flag])
      expect(run).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: '' })
    }
  })

  it('cinepass config prints the effective settings with secrets redacted, and opens nothing', async () => {
    const empty = temporaryDirectory()
    try {
      const run = await cinepassProcess(['config', '--port', '9999'], {
        cwd: empty.path,
        env: { NODE_ENV: 'production', CINEPASS_DATABASE: 'postgres://ada:pg-secret@db.example.test/cinepass', CINEPASS_REDIS_URL: 'redis://:redis-secret@cache:6379' },
      })
      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toContain('CINEPASS_DATABASE=postgres://ada:***@db.example.test/cinepass\n')
      expect(run.stdout).toContain('CINEPASS_PORT=9999\n')
      expect(run.stdout).toContain('CINEPASS_SIGNUP=closed\n')
      expect(run.stdout).toContain('CINEPASS_REDIS_URL=redis://:***@cache:6379\n')
      expect(run.stdout).toContain('CINEPASS_HASH_QUEUE=64\n')
      expect(run.stdout).not.toMatch(/pg-secret|redis-secret/)
      const json = await cinepassProcess(['config', '--json'], { cwd: empty.path, env: { NODE_ENV: '' } })
      expect(JSON.parse(json.stdout)).toMatchObject({ CINEPASS_DATABASE: 'data/cinepass.db', CINEPASS_PORT: 8080, CINEPASS_SIGNUP: 'open', demo: true })
      expect(readdirSync(empty.path)).toEqual([])
    } finally {
      empty.remove()
    }
  })

  it('cinepass config exits 2 naming a setting that is not valid', async () => {
    const run = await cinepassProcess(['config'], { env: { CINEPASS_REQUEST_TIMEOUT: '30s' } })
    expect(run.code).toBe(2)
    expect(run.stdout).toBe('')
    expect(oneLine(run)).toBe('cinepass: CINEPASS_REQUEST_TIMEOUT (seconds) must be a whole number from 1 to 315360000, not "30s"')
  })

  it('apps suspend and resume take the id apps list shows, or the API key, also as "-" from stdin', async () => {
    const created = JSON.parse((await cinepassProcess(['apps', 'create', '--name', 'Named', '--database', db, '--json'])).stdout) as { id: string; api_key: string }
    const suspended = await cinepassProcess(['apps', 'suspend', created.id, '--database', db, '--json'])
    expect(JSON.parse(suspended.stdout)).toEqual({ id: created.id, name: 'Named', suspended: true })
    const resumed = await cinepassProcess(['apps', 'resume', '-', '--database', db, '--json'], { stdin: `${created.api_key}\n` })
    expect(JSON.parse(resumed.stdout)).toEqual({ id: created.id, name: 'Named', suspended: false })
    const listed = JSON.parse((await cinepassProcess(['apps', 'list', '--database', db, '--json'])).stdout) as { applications: { id: string; suspended: boolean }[] }
    expect(listed.applications.find((app) => app.id === created.id)).toMatchObject({ suspended: false })
    const unknown = await cinepassProcess(['apps', 'suspend', 'a'.repeat(24), '--database', db])
    expect(unknown.code).toBe(2)
    expect(oneLine(unknown)).toBe('cinepass: no application has that id or API key')
    const empty = await cinepassProcess(['apps', 'suspend', '-', '--database', db], { stdin: '' })
    expect(empty.code).toBe(2)
    expect(oneLine(empty)).toBe('cinepass: "-" reads the value from standard input, which was empty')
  })

  it.skipIf(!HAS_SCRIPT)('users create and set-password ask for the password on a terminal without echoing it', async () => {
    const created = await onTerminal(['users', 'create', '--username', 'tty', '--database', db, '--json'], ['first secret', 'first secret'])
    expect(created.code, created.output).toBe(0)
    expect(created.output).not.toContain('first secret')
    expect(await passwordIs(db, 'tty', 'first secret')).toBe(true)
    const changed = await onTerminal(['users', 'set-password', 'tty', '--database', db], ['second secret', 'second secret'])
    expect(changed.code, changed.output).toBe(0)
    expect(changed.output).not.toContain('second secret')
    expect(await passwordIs(db, 'tty', 'second secret')).toBe(true)
    const differing = await onTerminal(['users', 'set-password', 'tty', '--database', db], ['third secret', 'another'])
    expect(differing.code).toBe(2)
    expect(differing.output).toContain('cinepass: the two passwords differ; nothing was changed')
    expect(await passwordIs(db, 'tty', 'second secret')).toBe(true)
  })
})

describe('cinepass keeps its files private', () => {
  it('creates the database folders 0700 and the database, WAL, SHM and backup files 0600 under umask 000', async () => {
    const dir = temporaryDirectory()
    const db = join(dir.path, 'new', 'sub', 'c.db')
    try {
      const migrated = await cinepassProcess(['migrate', '--database', db], { umask: '000' })
      expect(migrated.code, migrated.stderr).toBe(0)
      expect([mode(join(dir.path, 'new')), mode(join(dir.path, 'new', 'sub')), mode(db)]).toEqual(['700', '700', '600'])
      const server = await serveProcess(['--port', '0', '--no-demo', '--database', db], { umask: '000' })
      try {
        expect([mode(`${db}-wal`), mode(`${db}-shm`)]).toEqual(['600', '600'])
      } finally {
        await server.stop()
      }
      const backup = join(dir.path, 'backups', 'c.backup.db')
      const backedUp = await cinepassProcess(['backup', '--database', db, '--to', backup], { umask: '000' })
      expect(backedUp.code, backedUp.stderr).toBe(0)
      expect([mode(join(dir.path, 'backups')), mode(backup)]).toEqual(['700', '600'])
    } finally {
      dir.remove()
    }
  })
})

/** Runs the built CLI on a pseudo-terminal (util-linux `script`), typing each answer after its prompt. */
function onTerminal(args: string[], answers: string[]): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, BUILT_CLI, ...args].map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(' ')
  const child = spawn('script', ['-qefc', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], detached: true })
  let output = ''
  let answered = 0
  return new Promise((resolve) => {
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 20_000)
    const onOutput = (chunk: Buffer): void => {
      output += chunk.toString()
      const prompts = output.match(/new password: |the same again: /g)?.length ?? 0
      while (answered < prompts && answered < answers.length) child.stdin.write(`${answers[answered++]}\r`)
    }
    child.stdout.on('data', onOutput)
    child.stderr.on('data', onOutput)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
}

async function passwordIs(database: string, username: string, password: string): Promise<boolean> {
  const store = await openStore({ database, sqliteSync: 'normal' })
  try {
    const account = await store.findAccountByUsername(username)
    return account !== null && (await new Argon2Hasher().verify(account.passwordHash, password))
  } finally {
    await store.close()
  }
}
