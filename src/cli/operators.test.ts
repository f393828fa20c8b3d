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

/** Calls `/3/{path}` of the server at `base`: with `key` as api_key, `bearer` as a bearer, `body` as a POST's JSON. */
function apiOf(base: string) {
  return async (path: string, init: { key?: string; bearer?: string; body?: object } = {}): Promise<{ status: number; body: Record<string, unknown> }> => {
    const url = new URL(`/3/${path}`, base)
    if (init.key) url.searchParams.set('api_key', init.key)
    const response = await fetch(url, {
      method: init.body ? 'POST' : 'GET',
      headers: { ...(init.bearer ? { authorization: `Bearer ${init.bearer}` } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}) },
      body: init.body ? JSON.stringify(init.body) : undefined,
    })
    return { status: response.status, body: (await response.json()) as Record<string, unknown> }
  }
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
  const cases: {
    name: string
    args: (dir: string) => string[]
    env?: NodeJS.ProcessEnv
    prepare?: (dir: string) => void
    code: number
    line: (dir: string) => RegExp | string
    skip?: string | null
  }[] = [
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
      expect(warnings).toContainEqual(
        expect.stringMatching(/^the public URL http:\/\/0\.0\.0\.0:0 cannot be reached from other machines, yet cinepass listens on 0\.0\.0\.0/),
      )
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
    const server = await serveProcess(['--port', '0', '--no-demo', '--database', join(dir.path, 'c.db'), '--public-url', 'https://auth.example.test'], {
      env: { NODE_ENV: '' },
    })
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
        env: {
          NODE_ENV: 'production',
          CINEPASS_DATABASE: 'postgres://ada:pg-secret@db.example.test/cinepass',
          CINEPASS_REDIS_URL: 'redis://:redis-secret@cache:6379',
        },
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
    const created = JSON.parse((await cinepassProcess(['apps', 'create', '--name', 'Named', '--database', db, '--json'])).stdout) as {
      id: string
      api_key: string
    }
    const suspended = await cinepassProcess(['apps', 'suspend', created.id, '--database', db, '--json'])
    expect(JSON.parse(suspended.stdout)).toEqual({ id: created.id, name: 'Named', suspended: true })
    const resumed = await cinepassProcess(['apps', 'resume', '-', '--database', db, '--json'], { stdin: `${created.api_key}\n` })
    expect(JSON.parse(resumed.stdout)).toEqual({ id: created.id, name: 'Named', suspended: false })
    const listed = JSON.parse((await cinepassProcess(['apps', 'list', '--database', db, '--json'])).stdout) as {
      applications: { id: string; suspended: boolean }[]
    }
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

describe('apps rotate-key, apps delete and users delete', () => {
  let dir: ReturnType<typeof temporaryDirectory>
  let db: string
  beforeAll(() => {
    dir = temporaryDirectory()
    db = join(dir.path, 'ends.db')
  })
  afterAll(() => dir.remove())

  const json = (run: CliRun): Record<string, unknown> => {
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toBe('')
    expect(run.stdout.endsWith('\n') && run.stdout.split('\n').length === 2, run.stdout).toBe(true)
    return JSON.parse(run.stdout) as Record<string, unknown>
  }
  const created = async (name: string) =>
    json(await cinepassProcess(['apps', 'create', '--name', name, '--database', db, '--json'])) as { id: string; api_key: string; read_access_token: string }

  it('refuse every mistake with one line on stderr and exit 2, and change nothing', async () => {
    const app = await created('Kept')
    json(await cinepassProcess(['users', 'create', '--username', 'kept', '--database', db, '--json'], { stdin: 'kept password' }))
    const before = await contentOf(db)
    const mistakes: { args: string[]; stdin?: string; line: string | RegExp }[] = [
      { args: ['apps', 'rotate-key', 'a'.repeat(24)], line: 'cinepass: no application has that id or API key' },
      { args: ['apps', 'rotate-key', '-'], stdin: '', line: 'cinepass: "-" reads the value from standard input, which was empty' },
      { args: ['apps', 'delete', 'f'.repeat(32)], line: 'cinepass: no application has that id or API key' },
      { args: ['apps', 'delete', '-'], stdin: '\n', line: 'cinepass: "-" reads the value from standard input, which was empty' },
      { args: ['apps', 'delete'], line: `cinepass: missing required argument 'id_or_api_key' (see "cinepass apps delete --help")` },
      {
        args: ['apps', 'delete', app.id, 'extra'],
        line: /^cinepass: too many arguments for 'delete'\. Expected 1 argument but got 2\. \(see "cinepass apps delete --help"\)$/,
      },
      { args: ['users', 'delete', 'kept', '--frobnicate'], line: `cinepass: unknown option '--frobnicate' (see "cinepass users delete --help")` },
      { args: ['users', 'delete', 'nobody'], line: 'cinepass: no user is named "nobody"' },
      { args: ['users', 'delete', 'not a username!'], line: 'cinepass: no user is named "not a username!"' },
      { args: ['users', 'create', '--username', 'empty'], stdin: '', line: 'cinepass: the password is empty' },
      { args: ['users', 'set-password', 'kept'], stdin: '\n', line: 'cinepass: the password is empty' },
      { args: ['users', 'set-password', 'nobody'], stdin: 'a password', line: 'cinepass: no user is named "nobody"' },
    ]
    // Side by side (each is a process), every other one with --json: a mistake prints no JSON.
    const runs = await Promise.all(mistakes.map(({ args, stdin }, i) => cinepassProcess([...args, ...(i % 2 ? ['--json'] : []), '--database', db], { stdin })))
    runs.forEach((run, i) => {
      const { args, line } = mistakes[i]!
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(2)
      expect(run.stdout).toBe('')
      if (typeof line === 'string') expect(oneLine(run)).toBe(line)
      else expect(oneLine(run)).toMatch(line)
    })
    expect(await contentOf(db)).toEqual(before)
  }, 60_000)

  it('users create and set-password read the password from standard input when it is not a terminal, with or without --password-stdin', async () => {
    expect(json(await cinepassProcess(['users', 'create', '--username', 'piped', '--database', db, '--json'], { stdin: 'piped password\n' }))).toMatchObject({
      username: 'piped',
    })
    expect(await passwordIs(db, 'piped', 'piped password')).toBe(true)
    const changed = await cinepassProcess(['users', 'set-password', 'piped', '--database', db], { stdin: 'another password' })
    expect(changed.code, changed.stderr).toBe(0)
    expect(await passwordIs(db, 'piped', 'another password')).toBe(true)
    const flagged = await cinepassProcess(['users', 'set-password', 'piped', '--password-stdin', '--database', db], { stdin: 'third password\n' })
    expect(flagged.code, flagged.stderr).toBe(0)
    expect(await passwordIs(db, 'piped', 'third password')).toBe(true)
  })

  it("a rotated key and its read access token get 401/7 within a second on a running server, a deleted user's session 401/3, a deleted application's key 401/7", async () => {
    const server = await serveProcess(['--port', '0', '--no-demo', '--database', db])
    try {
      const app = await created('Rotated')
      json(await cinepassProcess(['users', 'create', '--username', 'leaving', '--database', db, '--json'], { stdin: 'leaving password' }))
      const api = apiOf(server.url)
      const { body: token } = await api('authentication/token/new', { key: app.api_key })
      await api('authentication/token/validate_with_login', {
        key: app.api_key,
        body: { username: 'leaving', password: 'leaving password', request_token: token.request_token },
      })
      const { body: session } = await api('authentication/session/new', { key: app.api_key, body: { request_token: token.request_token } })
      const sessionId = session.session_id as string
      expect(sessionId).toMatch(/^[0-9a-f]{40}$/)
      expect((await api('authentication', { key: app.api_key })).status).toBe(200)
      expect((await api('authentication', { bearer: app.read_access_token })).status).toBe(200)

      const rotated = json(await cinepassProcess(['apps', 'rotate-key', app.id, '--database', db, '--json']))
      expect(Object.keys(rotated)).toEqual(['id', 'api_key', 'read_access_token'])
      expect(rotated.id).toBe(app.id)
      expect(rotated.api_key).toMatch(/^[0-9a-f]{32}$/)
      expect(rotated.api_key).not.toBe(app.api_key)
      const payload = JSON.parse(Buffer.from((rotated.read_access_token as string).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>
      expect(payload).toMatchObject({ aud: rotated.api_key, sub: app.id })
      const refused = { status: 401, body: expect.objectContaining({ status_code: 7, success: false }) }
      // The server caches an application for at most a second; the rest is slack for a loaded machine.
      await expectWithin(2000, async () => expect(await api('authentication', { key: app.api_key })).toEqual(refused))
      expect(await api('authentication', { bearer: app.read_access_token })).toEqual(refused)
      expect((await api('authentication', { key: rotated.api_key as string })).status).toBe(200)
      expect((await api('authentication', { bearer: rotated.read_access_token as string })).status).toBe(200)
      // Sessions stay the application's: with the new key, the user is still signed in.
      expect(await api(`account?session_id=${sessionId}`, { key: rotated.api_key as string })).toMatchObject({ status: 200, body: { username: 'leaving' } })
      // The old key, also given on standard input, names the application no more.
      const stale = await cinepassProcess(['apps', 'rotate-key', '-', '--database', db], { stdin: app.api_key })
      expect(stale.code).toBe(2)
      expect(oneLine(stale)).toBe('cinepass: no application has that id or API key')

      expect(json(await cinepassProcess(['users', 'delete', 'LEAVING', '--database', db, '--json']))).toEqual({
        id: expect.any(Number),
        username: 'leaving',
        deleted: true,
      })
      expect(await api(`account?session_id=${sessionId}`, { key: rotated.api_key as string })).toEqual({
        status: 401,
        body: expect.objectContaining({ status_code: 3, success: false }),
      })
      const users = json(await cinepassProcess(['users', 'list', '--database', db, '--json'])) as { users: { username: string }[] }
      expect(users.users.map((user) => user.username)).not.toContain('leaving')

      const deleted = await cinepassProcess(['apps', 'delete', '-', '--database', db], { stdin: `${rotated.api_key as string}\n` })
      expect(deleted.code, deleted.stderr).toBe(0)
      expect(deleted.stdout).toBe(`application ${app.id} "Rotated" deleted; its sessions and tokens ended\n`)
      await expectWithin(2000, async () => expect(await api('authentication', { key: rotated.api_key as string })).toEqual(refused))
      expect(await api('authentication', { bearer: rotated.read_access_token as string })).toEqual(refused)
      const apps = json(await cinepassProcess(['apps', 'list', '--database', db, '--json'])) as { applications: { id: string }[] }
      expect(apps.applications.map((listed) => listed.id)).not.toContain(app.id)
    } finally {
      await server.stop()
    }
  }, 60_000)
})

describe('sessions list and sessions revoke', () => {
  it("list a user's sessions, and end one by the id a client holds, one by its REF, or all of them; a mistake exits 2 and ends nothing", async () => {
    const dir = temporaryDirectory()
    const db = join(dir.path, 'sessions.db')
    const run = async (args: string[], stdin?: string): Promise<CliRun> => cinepassProcess([...args, '--database', db], { stdin })
    const json = (done: CliRun): Record<string, unknown> => {
      expect(done.code, done.stderr).toBe(0)
      return JSON.parse(done.stdout) as Record<string, unknown>
    }
    const app = json(await run(['apps', 'create', '--name', 'Listed', '--json'])) as { api_key: string }
    json(await run(['users', 'create', '--username', 'lister', '--json'], 'lister password'))
    const server = await serveProcess(['--port', '0', '--no-demo', '--database', db])
    try {
      const api = apiOf(server.url)
      const signIn = async (): Promise<string> => {
        const { body: token } = await api('authentication/token/new', { key: app.api_key })
        await api('authentication/token/validate_with_login', {
          key: app.api_key,
          body: { username: 'lister', password: 'lister password', request_token: token.request_token },
        })
        return (await api('authentication/session/new', { key: app.api_key, body: { request_token: token.request_token } })).body.session_id as string
      }
      const sessionIds = [await signIn(), await signIn(), await signIn()]
      const live = async (): Promise<number[]> =>
        Promise.all(sessionIds.map(async (id) => (await api(`account?session_id=${id}`, { key: app.api_key })).status))
      expect(await live()).toEqual([200, 200, 200])

      const listed = json(await run(['sessions', 'list', '--user', 'LISTER', '--json'])) as {
        user: { username: string }
        sessions: { ref: string; kind: string; application: string }[]
      }
      expect(listed.user.username).toBe('lister')
      expect(listed.sessions).toHaveLength(3)
      for (const row of listed.sessions) expect(row).toMatchObject({ ref: expect.stringMatching(/^[0-9a-f]{32}$/), kind: 'session', application: 'Listed' })

      const mistakes = await Promise.all([
        run(['sessions', 'revoke']),
        run(['sessions', 'revoke', 'f'.repeat(40)]),
        run(['sessions', 'revoke', listed.sessions[0]!.ref]),
        run(['sessions', 'revoke', 'f'.repeat(32), '--user', 'lister']),
        run(['sessions', 'list', '--user', 'nobody']),
        run(['sessions', 'list']),
      ])
      for (const mistake of mistakes) {
        expect(mistake.code, mistake.stderr).toBe(2)
        expect(mistake.stdout).toBe('')
        oneLine(mistake)
      }
      expect(await live()).toEqual([200, 200, 200])

      // The id a client holds, given on standard input (kept out of ps and the shell's history).
      expect((await run(['sessions', 'revoke', '-'], `${sessionIds[0]!}\n`)).code).toBe(0)
      expect(await live()).toEqual([401, 200, 200])
      const left = (json(await run(['sessions', 'list', '--user', 'lister', '--json'])) as typeof listed).sessions
      expect(left).toHaveLength(2)
      expect(json(await run(['sessions', 'revoke', left[0]!.ref, '--user', 'lister', '--json']))).toMatchObject({ revoked: 1, kind: 'session' })
      expect((await live()).filter((status) => status === 200)).toHaveLength(1)
      expect((await run(['sessions', 'revoke', '--user', 'lister'])).code).toBe(0)
      expect(await live()).toEqual([401, 401, 401])
      expect((json(await run(['sessions', 'list', '--user', 'lister', '--json'])) as typeof listed).sessions).toEqual([])
    } finally {
      await server.stop()
      dir.remove()
    }
  }, 60_000)
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

/** Every row of the database, to compare before and after a command. */
async function contentOf(database: string): Promise<unknown> {
  const store = await openStore({ database, sqliteSync: 'normal' })
  try {
    return await store.exportAll()
  } finally {
    await store.close()
  }
}

/** Retries `check` every 100 ms until it passes; fails with its last error after `ms`. */
async function expectWithin(ms: number, check: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      return await check()
    } catch (error) {
      if (Date.now() >= deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}
