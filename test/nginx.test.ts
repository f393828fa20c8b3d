import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { temporaryDirectory } from '../src/test-support/fixtures.js'
import { createTemporaryPostgresDatabase, postgresSkipReason, type TemporaryPostgresDatabase } from '../src/test-support/postgres.js'
import { WebClient, csrfOf } from '../src/test-support/web-client.js'
import { seed, type Seeded } from './support/backends.js'
import { V3, request, type Answer } from './support/flow.js'
import { freePort, spawnServer, type ServerProcess } from './support/processes.js'

const EXAMPLE = fileURLToPath(new URL('../docs/examples/nginx-cinepass.conf', import.meta.url))
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((path) => existsSync(path))

const skipReason = NGINX ? await postgresSkipReason('nginx in front of two instances') : 'nginx is not installed (apt-get install -y nginx)'
if (skipReason && process.env.CI) throw new Error(`nginx in front of two instances: required in CI: ${skipReason}`)
if (skipReason && !NGINX) console.warn(`nginx in front of two instances: skipped: ${skipReason}`)

const cleanups: (() => Promise<unknown> | void)[] = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
}, 60_000)

/** The example config with this test's ports, inside a minimal main config of a temporary prefix. */
function writeNginxConfig(prefix: string, listen: number, instances: string[]): string {
  const example = readFileSync(EXAMPLE, 'utf8')
  const upstreams = [...example.matchAll(/^\s*server (127\.0\.0\.1:\d+)[ ;]/gm)]
  expect(upstreams).toHaveLength(instances.length)
  let site = example
    .replace(/^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${listen};`)
    .replace('/var/log/nginx/cinepass-access.log', join(prefix, 'logs/access.log'))
  instances.forEach((url, index) => (site = site.replace(upstreams[index]![1]!, new URL(url).host)))
  for (const dir of ['tmp', 'logs']) {
    mkdirSync(join(prefix, dir), { recursive: true })
    // As root, nginx workers run as an unprivileged user that needs these.
    chmodSync(join(prefix, dir), 0o777)
  }
  chmodSync(prefix, 0o755)
  writeFileSync(join(prefix, 'cinepass.conf'), site)
  const main = `
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
worker_processes 1;
events { worker_connections 256; }
http {
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  include ${prefix}/cinepass.conf;
}
`
  const path = join(prefix, 'nginx.conf')
  writeFileSync(path, main)
  return path
}

/** Two instances on a fresh PostgreSQL database, on fixed ports, behind nginx running the example config. */
interface ProxiedPair {
  publicUrl: string
  seeded: Seeded
  database: TemporaryPostgresDatabase
  env: NodeJS.ProcessEnv
  ports: number[]
  instances: ServerProcess[]
  /** nginx's log folder. */
  logs: string
}

async function startProxiedPair(): Promise<ProxiedPair> {
  const database = await createTemporaryPostgresDatabase()
  cleanups.push(() => database.drop())
  const seeded = await seed(database.url, 2)
  const listen = await freePort()
  const publicUrl = `http://127.0.0.1:${listen}`
  const env = { CINEPASS_PUBLIC_URL: publicUrl, CINEPASS_TRUST_PROXY: '127.0.0.1' }
  const ports = [await freePort(), await freePort()]
  const instances: ServerProcess[] = await Promise.all(ports.map((port) => spawnServer(database.url, env, port)))
  // Whichever instances run at the end (a restart replaces them) are stopped.
  cleanups.push(() => Promise.all(instances.map((instance) => instance.stop())))

  const prefix = temporaryDirectory('cinepass-nginx-')
  cleanups.push(prefix.remove)
  const config = writeNginxConfig(prefix.path, listen, instances.map((instance) => instance.url))
  execFileSync(NGINX!, ['-t', '-q', '-p', prefix.path, '-c', config])
  const nginx: ChildProcess = spawn(NGINX!, ['-p', prefix.path, '-c', config, '-g', 'daemon off;'], { stdio: 'ignore' })
  const nginxExited = new Promise((resolve) => nginx.once('exit', resolve))
  cleanups.push(async () => {
    nginx.kill('SIGQUIT')
    await nginxExited
  })
  let health = await request(`${publicUrl}/healthz`)
  for (let attempt = 0; attempt < 50 && health.status !== 200; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    health = await request(`${publicUrl}/healthz`)
  }
  expect(health.status).toBe(200)
  return { publicUrl, seeded, database, env, ports, instances, logs: join(prefix.path, 'logs') }
}

describe.skipIf(skipReason !== null)('nginx (docs/examples/nginx-cinepass.conf) in front of two instances on one PostgreSQL', () => {
  it('a website sign-in, approval and session work through nginx while requests alternate between the instances', async () => {
    const { publicUrl, seeded, instances, logs } = await startProxiedPair()

    const requestsSeen = (instance: ServerProcess): number => instance.output.filter((line) => line.includes('"msg":"request"')).length
    const linesWritten = () => new Promise((resolve) => setTimeout(resolve, 500))
    await linesWritten()
    const before = instances.map(requestsSeen)

    // The whole v3 flow through the proxy, the user approving on the website as a browser would.
    const v3 = new V3(publicUrl, seeded.apiKey)
    const user = seeded.users[0]!
    const token = (await v3.tokenNew()).body.request_token as string
    const web = new WebClient(publicUrl)
    expect((await web.signIn(user, `/authenticate/${token}`)).status).toBe(303)
    const page = await web.get(`/authenticate/${token}`)
    expect(page.status).toBe(200)
    const approved = await web.post(`/authenticate/${token}/allow`, { _csrf: csrfOf(page.text) })
    expect(approved.status).toBe(303)
    const allow = await web.get(`/authenticate/${token}/allow`)
    expect(allow.headers.get('authentication-callback')).toBe(`${publicUrl}/3/authentication/session/new?request_token=${token}`)
    const session = await v3.sessionNew(token)
    expect(session).toMatchObject({ status: 200, body: { success: true } })
    for (let i = 0; i < 4; i++) expect(await v3.account(session.body.session_id)).toMatchObject({ status: 200, body: { id: user.id } })
    expect(await v3.deleteSession(session.body.session_id)).toMatchObject({ status: 200 })
    for (let i = 0; i < 2; i++) expect(await v3.account(session.body.session_id)).toMatchObject({ status: 401, body: { status_code: 3 } })

    // Round robin: both instances took part in the flow. (Request lines are written in batches, at the
    // latest every 200 ms.)
    await linesWritten()
    const served = instances.map((instance, index) => requestsSeen(instance) - before[index]!)
    expect(served.every((count) => count > 0), `requests per instance: ${served.join(', ')}`).toBe(true)
    console.info(`nginx: one sign-in and approval flow, ${served.join(' + ')} requests on the two instances`)

    // The example's access log keeps the paths and leaves out the query strings that carry secrets.
    const accessLog = readFileSync(join(logs, 'access.log'), 'utf8')
    expect(accessLog).toContain('"GET /3/account"')
    expect(accessLog).toContain('"POST /authenticate/[REDACTED]/allow"')
    for (const secret of [seeded.apiKey, token, session.body.session_id as string, user.password]) expect(accessLog).not.toContain(secret)
  }, 90_000)

  it('a rolling restart of both instances (SIGTERM, start again on the same port) drops no request', async () => {
    const { publicUrl, seeded, database, env, ports, instances, logs } = await startProxiedPair()
    const v3 = new V3(publicUrl, seeded.apiKey)
    const [alice, bob] = seeded.users as [Seeded['users'][0], Seeded['users'][0]]
    const standing = await v3.sessionNew(await v3.approvedToken(alice))
    expect(standing.status).toBe(200)

    // Clients run the whole flow and check a standing session, without pause, during both restarts.
    const answers: { what: string; status: number; error?: string | undefined }[] = []
    let running = true
    const record = (what: string, answer: Answer): Answer => (answers.push({ what, status: answer.status, error: answer.error }), answer)
    const clients = Array.from({ length: 6 }, async (_, index) => {
      while (running) {
        if (index % 3 === 0) {
          record('account', await v3.account(standing.body.session_id))
          continue
        }
        const token = record('token/new', await v3.tokenNew())
        if (token.status !== 200) continue
        const validated = record('validate_with_login', await v3.validate(token.body.request_token, bob.username, bob.password))
        if (validated.status !== 200) continue
        const session = record('session/new', await v3.sessionNew(token.body.request_token))
        if (session.status === 200) record('delete session', await v3.deleteSession(session.body.session_id))
      }
    })
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
    await pause(1_000)
    for (const index of [0, 1]) {
      expect(await instances[index]!.stop('SIGTERM')).toEqual({ code: 0, signal: null })
      instances[index] = await spawnServer(database.url, env, ports[index])
      // As docs/deployment.md says: the next instance stops only after nginx's fail_timeout (2 s) and one
      // second more have passed (nginx counts it in whole seconds: a failure at 10.9 s lasts until 13 s).
      await pause(3_500)
    }
    running = false
    await Promise.all(clients)

    const failed = answers.filter((answer) => answer.status !== 200)
    const perKind = new Map<string, number>()
    for (const answer of answers) perKind.set(answer.what, (perKind.get(answer.what) ?? 0) + 1)
    console.info(`nginx rolling restart: ${answers.length} requests (${[...perKind].map(([what, n]) => `${what} ${n}`).join(', ')}), ${failed.length} not 200`)
    const failureKinds = new Map<string, number>()
    for (const answer of failed) failureKinds.set(`${answer.what} ${answer.status} ${answer.error ?? ""}`, (failureKinds.get(`${answer.what} ${answer.status} ${answer.error ?? ""}`) ?? 0) + 1)
    // On failure, nginx's own account of it (refused connects to a stopped instance are expected).
    const nginxErrors = () =>
      readFileSync(join(logs, 'error.log'), 'utf8')
        .split('\n')
        .filter((line) => line && !/Connection refused|temporarily disabled/.test(line))
        .join('\n')
    expect(Object.fromEntries(failureKinds), nginxErrors()).toEqual({})
    expect(answers.filter((answer) => answer.what === 'session/new').length).toBeGreaterThan(10)
  }, 120_000)
})
