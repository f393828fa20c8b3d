import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashSecret } from '../core/secrets.js'
import { SQLITE_MIGRATIONS } from '../store/sqlite/migrations.js'
import { SqliteStore } from '../store/sqlite/sqlite-store.js'
import { BUILT_CLI as CLI, cinepassInProcess as cinepass, cinepassProcess, type CliRun as Run } from '../test-support/cli.js'
import { temporaryDirectory } from '../test-support/fixtures.js'

let dir: ReturnType<typeof temporaryDirectory>
let db: string

beforeAll(() => {
  dir = temporaryDirectory()
  db = join(dir.path, 'cli.db')
})

afterAll(() => (dir as typeof dir | undefined)?.remove()) // undefined when beforeAll failed before assigning it

function oneJsonLine(run: Run): any {
  expect(run.code, run.stderr).toBe(0)
  const lines = run.stdout.split('\n').filter(Boolean)
  expect(lines).toHaveLength(1)
  return JSON.parse(lines[0]!)
}

describe('cinepass CLI', () => {
  it('the built command exits 0 for --help, and 2 with one line on stderr for a mistake', async () => {
    const help = await cinepassProcess(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Usage: cinepass')
    const mistake = await cinepassProcess(['users', 'disable', 'nobody', '--database', db])
    expect(mistake.code).toBe(2)
    expect(mistake.stdout).toBe('')
    expect(mistake.stderr).toBe('cinepass: no user is named "nobody"\n')
  })

  it('--help lists the commands, and every command has its own --help', async () => {
    const help = await cinepass(['--help'])
    expect(help.code).toBe(0)
    for (const command of ['serve', 'migrate', 'apps', 'users', 'keys', 'purge', 'backup', 'copy']) expect(help.stdout).toContain(command)
    for (const command of [['serve'], ['apps', 'create'], ['users', 'create'], ['users', 'set-password'], ['migrate']]) {
      const run = await cinepass([...command, '--help'])
      expect(run.code).toBe(0)
      expect(run.stdout).toContain('Usage: cinepass')
    }
  })

  it('migrate applies the schema and reports its version as JSON', async () => {
    expect(oneJsonLine(await cinepass(['migrate', '--database', db, '--json']))).toEqual({
      database: 'sqlite',
      schema_version: SQLITE_MIGRATIONS.at(-1)!.version,
    })
  })

  it('apps create --json prints exactly one JSON object with the key and read access token', async () => {
    const created = oneJsonLine(await cinepass(['apps', 'create', '--name', 'My App', '--database', db, '--json']))
    expect(Object.keys(created)).toEqual(['id', 'name', 'api_key', 'read_access_token'])
    expect(created.id).toMatch(/^[0-9a-f]{24}$/)
    expect(created.name).toBe('My App')
    expect(created.api_key).toMatch(/^[0-9a-f]{32}$/)
    const payload = JSON.parse(Buffer.from(created.read_access_token.split('.')[1], 'base64url').toString())
    expect(payload).toEqual({ aud: created.api_key, nbf: expect.any(Number), sub: created.id, scopes: ['api_read'], version: 1 })
  })

  it('apps list, suspend and resume act on the application', async () => {
    const created = oneJsonLine(await cinepass(['apps', 'create', '--name', 'Suspendable', '--database', db, '--json']))
    expect(oneJsonLine(await cinepass(['apps', 'suspend', created.api_key, '--database', db, '--json']))).toEqual({
      id: created.id,
      name: 'Suspendable',
      suspended: true,
    })
    const listed = oneJsonLine(await cinepass(['apps', 'list', '--database', db, '--json']))
    expect(listed.applications.find((app: { id: string }) => app.id === created.id)).toMatchObject({ suspended: true })
    expect(JSON.stringify(listed)).not.toContain(created.api_key)
    expect((await cinepass(['apps', 'resume', created.api_key, '--database', db])).code).toBe(0)
  })

  it('users create reads the password from stdin and prints {"id","username"}', async () => {
    const created = oneJsonLine(
      await cinepass(['users', 'create', '--username', 'ada', '--name', 'Ada', '--password-stdin', '--database', db, '--json'], { stdin: 'correct horse\n' }),
    )
    expect(created).toEqual({ id: expect.any(Number), username: 'ada' })
    const listed = oneJsonLine(await cinepass(['users', 'list', '--database', db, '--json']))
    expect(listed.users).toContainEqual({ id: created.id, username: 'ada', name: 'Ada', email: null, disabled: false })
  })

  it('users disable, enable and set-password change the account', async () => {
    oneJsonLine(await cinepass(['users', 'create', '--username', 'bob', '--password-stdin', '--database', db, '--json'], { stdin: 'first password' }))
    expect(oneJsonLine(await cinepass(['users', 'disable', 'bob', '--database', db, '--json']))).toMatchObject({ username: 'bob', disabled: true })
    expect(oneJsonLine(await cinepass(['users', 'enable', 'bob', '--database', db, '--json']))).toMatchObject({ username: 'bob', disabled: false })
    const changed = await cinepass(['users', 'set-password', 'bob', '--password-stdin', '--database', db], { stdin: 'second password\n' })
    expect(changed.code, changed.stderr).toBe(0)
  })

  it('users reset-link prints one line, a one-time link under the public URL, whose token is stored only hashed', async () => {
    oneJsonLine(await cinepass(['users', 'create', '--username', 'carla', '--password-stdin', '--database', db, '--json'], { stdin: 'carla password' }))
    const env = { CINEPASS_PUBLIC_URL: 'https://auth.example.com' }
    const run = await cinepass(['users', 'reset-link', 'CARLA', '--database', db], { env })
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/^https:\/\/auth\.example\.com\/account\/reset\?token=[0-9a-f]{40}\n$/)
    const token = new URL(run.stdout.trim()).searchParams.get('token')!
    const json = oneJsonLine(await cinepass(['users', 'reset-link', 'carla', '--database', db, '--json', '--public-url', 'https://other.example.com']))
    expect(json).toEqual({
      username: 'carla',
      url: expect.stringMatching(/^https:\/\/other\.example\.com\/account\/reset\?token=[0-9a-f]{40}$/),
      expires_at: expect.any(String),
    })
    expect(Date.parse(json.expires_at) - Date.now()).toBeGreaterThan(59 * 60_000)
    const store = SqliteStore.open(db)
    try {
      // Stored as its hash; the newer link replaced the first.
      expect(await store.findPasswordResetToken(token)).toBeNull()
      expect(await store.findPasswordResetToken(hashSecret(token))).toBeNull()
      expect(await store.findPasswordResetToken(hashSecret(new URL(json.url).searchParams.get('token')!))).toMatchObject({ usedAt: null })
    } finally {
      await store.close()
    }
    const unknown = await cinepass(['users', 'reset-link', 'nobody', '--database', db])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/no user is named/)
  })

  it('keys list, rotate and retire manage signing keys', async () => {
    const rotated = oneJsonLine(await cinepass(['keys', 'rotate', '--database', db, '--json']))
    expect(rotated.kid).toMatch(/^[0-9a-f]{16}$/)
    const listed = oneJsonLine(await cinepass(['keys', 'list', '--database', db, '--json']))
    expect(listed.keys.map((key: { kid: string }) => key.kid)).toContain(rotated.kid)
    expect(oneJsonLine(await cinepass(['keys', 'retire', rotated.kid, '--database', db, '--json']))).toEqual({ kid: rotated.kid, retired: true })
  })

  it('purge reports how many expired rows it deleted', async () => {
    expect(oneJsonLine(await cinepass(['purge', '--database', db, '--json']))).toEqual({ deleted: expect.any(Number) })
  })

  it.each([
    { name: 'a taken username', args: ['users', 'create', '--username', 'ADA', '--password-stdin'], stdin: 'another password', message: /taken/ },
    { name: 'an empty password', args: ['users', 'create', '--username', 'carol', '--password-stdin'], stdin: '\n', message: /password is empty/ },
    { name: 'an empty standard input without --password-stdin', args: ['users', 'create', '--username', 'dave'], stdin: '', message: /password is empty/ },
    { name: 'an unknown API key', args: ['apps', 'suspend', 'f'.repeat(32)], stdin: '', message: /no application/ },
    { name: 'an unknown user', args: ['users', 'disable', 'nobody'], stdin: '', message: /no user/ },
    { name: 'an unknown signing key', args: ['keys', 'retire', 'abc'], stdin: '', message: /no live signing key/ },
    { name: 'an unknown option', args: ['apps', 'list', '--frobnicate'], stdin: '', message: /unknown option/ },
  ])('refuses $name with one line on stderr and exit code 2', async ({ args, stdin, message }) => {
    const before = oneJsonLine(await cinepass(['users', 'list', '--database', db, '--json']))
    const run = await cinepass([...args, '--database', db], { stdin })
    expect(run.code).toBe(2)
    expect(run.stdout).toBe('')
    expect(run.stderr).toMatch(message)
    expect(oneJsonLine(await cinepass(['users', 'list', '--database', db, '--json']))).toEqual(before)
  })

  it('refuses a setting that is not a number, naming it', async () => {
    const run = await cinepass(['migrate', '--database', db], { env: { CINEPASS_REQUEST_TOKEN_TTL: 'soon' } })
    expect(run.code).toBe(2)
    expect(run.stderr.trim().split('\n')).toHaveLength(1)
    expect(run.stderr).toContain('CINEPASS_REQUEST_TOKEN_TTL')
    const port = await cinepass(['serve', '--database', db, '--port', 'eighty'])
    expect(port.code).toBe(2)
    expect(port.stderr).toContain('--port')
  })

  it('serve prints the demo credentials once on a new database, drains on SIGTERM and exits 0', async () => {
    const fresh = join(dir.path, 'demo.db')
    const first = await serveUntilListening(fresh, [])
    expect(first.stdout).toContain('created a demo application and user')
    const key = /API key:\s+([0-9a-f]{32})/.exec(first.stdout)![1]
    const response = await fetch(`${first.url}/3/authentication?api_key=${key}`)
    expect(response.status).toBe(200)
    expect(await first.stop()).toBe(0)
    const second = await serveUntilListening(fresh, [])
    expect(second.stdout).not.toContain('demo')
    expect(await second.stop()).toBe(0)
    const production = await serveUntilListening(join(dir.path, 'prod.db'), [], { NODE_ENV: 'production' })
    expect(production.stdout).not.toContain('demo')
    expect(await production.stop()).toBe(0)
  })
})

/** Starts `cinepass serve` on a free port and waits for its "listening" log line. */
async function serveUntilListening(database: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--database', database, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  child.stderr.resume()
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stdout}`)), 20_000)
    child.stdout.on('data', (chunk) => {
      stdout += chunk
      const match = /"url":"(http:[^"]+)"[^\n]*"msg":"cinepass listening"/.exec(stdout)
      if (match) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    })
    child.on('exit', () => reject(new Error(`serve exited early: ${stdout}`)))
  })
  return {
    url,
    /** What serve printed for the person at the terminal: its stdout without the JSON log lines. */
    get stdout() {
      return stdout
        .split('\n')
        .filter((line) => !line.startsWith('{'))
        .join('\n')
    },
    stop: () =>
      new Promise<number | null>((resolve) => {
        child.on('exit', (code) => resolve(code))
        child.kill('SIGTERM')
      }),
  }
}
