import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { temporaryDirectory } from '../test-support/fixtures.js'
import { SqliteStore } from '../store/sqlite/sqlite-store.js'

// The built CLI (`npm run build` first; `npm test` does).
const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))
const KEY = 'aaaabbbbccccddddeeeeffff00001111'
const dir = temporaryDirectory()
const FIXTURES = join(dir.path, 'fixtures.json')
writeFileSync(
  FIXTURES,
  JSON.stringify({
    apps: [{ name: 'CI app', api_key: KEY }, { name: 'Generated app' }],
    users: [
      { username: 'ci-user', password: 'ci-password', name: 'CI' },
      { username: 'off', password: 'x-password', disabled: true },
    ],
  }),
)
afterAll(() => dir.remove())

interface Served {
  child: ChildProcess
  url: string
  stdout: string[]
}
const running = new Set<ChildProcess>()
afterEach(() => {
  // Its own process group: nothing it started outlives the test.
  for (const child of running) if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL')
  running.clear()
})

function start(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', ...args], {
    env: { ...process.env, NODE_ENV: 'test', CINEPASS_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  running.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  )
  return { child, done }
}

/** Starts `cinepass serve` and resolves once it logs that it listens (within 20 s). */
async function serve(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const { child, done } = start(args, env)
  const stdout: string[] = []
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not listening after 20 s:\n${stdout.join('\n')}`)), 20_000)
    createInterface({ input: child.stdout! }).on('line', (line) => {
      stdout.push(line)
      if (!line.includes('cinepass listening')) return
      clearTimeout(timer)
      resolve((JSON.parse(line) as { url: string }).url)
    })
    void done.then(({ code, stderr }) => reject(new Error(`exited (${code}) before listening: ${stderr}`)))
  })
  return { child, url, stdout }
}

async function stop(served: Served): Promise<void> {
  const exited = new Promise((resolve) => served.child.once('exit', resolve))
  process.kill(-served.child.pid!, 'SIGTERM')
  await exited
}

async function get(url: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(url, init)
  return { status: response.status, body: await response.json() }
}

function post(url: string, body: object, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  return get(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
}

describe('cinepass serve --fixtures', () => {
  it("--database :memory: serves the fixtures' applications and users as soon as /readyz answers, and prints generated keys", async () => {
    const served = await serve(['--database', ':memory:', '--fixtures', FIXTURES])
    expect((await get(`${served.url}/readyz`)).status).toBe(200)
    const token = (await get(`${served.url}/3/authentication/token/new?api_key=${KEY}`)).body.request_token
    const login = await post(`${served.url}/3/authentication/token/validate_with_login?api_key=${KEY}`, {
      username: 'ci-user',
      password: 'ci-password',
      request_token: token,
    })
    expect(login.status).toBe(200)
    const session = (await post(`${served.url}/3/authentication/session/new?api_key=${KEY}`, { request_token: token })).body.session_id
    expect((await get(`${served.url}/3/account?api_key=${KEY}&session_id=${session}`)).body).toMatchObject({ username: 'ci-user', name: 'CI' })
    const disabled = await post(`${served.url}/3/authentication/token/validate_with_login?api_key=${KEY}`, {
      username: 'off',
      password: 'x-password',
      request_token: token,
    })
    expect(disabled.body.status_code).toBe(31)
    // The generated application's key is printed once, and works.
    const printed = served.stdout.join('\n').match(/Generated app\n\s+API key:\s+([0-9a-f]{32})\n\s+read access token:\s+(\S+)/)
    expect(printed, served.stdout.join('\n')).not.toBeNull()
    expect((await get(`${served.url}/3/authentication?api_key=${printed![1]}`)).status).toBe(200)
    expect((await get(`${served.url}/3/authentication`, { headers: { authorization: `Bearer ${printed![2]}` } })).status).toBe(200)
    // The fixed key's application gets only its read access token printed.
    const fixedKeys = served.stdout.join('\n').match(/CI app\n\s+read access token:\s+(\S+)\n/)
    expect(fixedKeys, served.stdout.join('\n')).not.toBeNull()
    expect((await get(`${served.url}/4/auth/request_token`, { method: 'POST', headers: { authorization: `Bearer ${fixedKeys![1]}` } })).status).toBe(200)
    // No secret in the log lines.
    const logLines = served.stdout.filter((line) => line.startsWith('{'))
    expect(logLines.some((line) => line.includes('fixtures applied'))).toBe(true)
    expect(logLines.join('\n')).not.toContain(printed![1])
    await stop(served)
  })

  it('twice on a database file: the second start changes nothing', async () => {
    const database = join(dir.path, 'twice.db')
    const first = await serve(['--database', database, '--fixtures', FIXTURES, '--no-demo'])
    await stop(first)
    const store = SqliteStore.open(database)
    const before = await store.exportAll()
    await store.close()
    const second = await serve(['--database', database, '--fixtures', FIXTURES, '--no-demo'])
    // Only the fixed key's read access token, made again; no API key.
    expect(second.stdout.join('\n')).not.toContain('API key:')
    expect(second.stdout.join('\n')).toMatch(/CI app\n\s+read access token:/)
    expect(second.stdout.find((line) => line.includes('fixtures applied'))).toContain('"applications":{"created":0,"existing":2}')
    await stop(second)
    const reopened = SqliteStore.open(database)
    expect(await reopened.exportAll()).toEqual(before)
    // `serve` hashes fixtures' passwords with the real settings: the fast ones are the testing kit's alone.
    expect((await reopened.findAccountByUsername('ci-user'))!.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
    await reopened.close()
  })

  it('--auto-approve approves every new v3 and v4 request token as that user', async () => {
    const served = await serve(['--database', ':memory:', '--fixtures', FIXTURES, '--auto-approve', 'ci-user'])
    const token = (await get(`${served.url}/3/authentication/token/new?api_key=${KEY}`)).body.request_token
    const session = await post(`${served.url}/3/authentication/session/new?api_key=${KEY}`, { request_token: token })
    expect(session.status).toBe(200)
    expect((await get(`${served.url}/3/account?api_key=${KEY}&session_id=${session.body.session_id}`)).body.username).toBe('ci-user')
    const readToken = served.stdout.join('\n').match(/read access token:\s+(\S+)/)![1]!
    const bearer = { authorization: `Bearer ${readToken}` }
    const v4 = (await post(`${served.url}/4/auth/request_token`, {}, bearer)).body.request_token
    const access = await post(`${served.url}/4/auth/access_token`, { request_token: v4 }, bearer)
    expect(access.status).toBe(200)
    await stop(served)
  })

  it('refuses --auto-approve with NODE_ENV=production, a user who cannot sign in, and bad fixtures, naming the problem', async () => {
    const production = await start(['--database', ':memory:', '--auto-approve', 'ci-user'], { NODE_ENV: 'production' }).done
    expect(production.code).toBe(2)
    expect(production.stderr).toContain('--auto-approve')
    expect(production.stderr).toContain('NODE_ENV=production')
    const disabled = await start(['--database', ':memory:', '--fixtures', FIXTURES, '--auto-approve', 'off']).done
    expect(disabled.code).toBe(2)
    expect(disabled.stderr).toContain('--auto-approve: no user "off" who may sign in')
    const badFile = join(dir.path, 'bad.json')
    writeFileSync(badFile, JSON.stringify({ users: [{ username: 'x', password: 'y-password', admin: true }] }))
    const bad = await start(['--database', ':memory:', '--fixtures', badFile]).done
    expect(bad.code).toBe(2)
    expect(bad.stderr.trim().split('\n')).toEqual([
      `cinepass: ${badFile}: users[0].admin: is not a fixtures field (expected "username", "password", "name", "disabled")`,
    ])
  })
})
