import { expect } from 'vitest'
import { createTemporaryPostgresDatabase, type TemporaryPostgresDatabase } from '../../src/test-support/postgres.js'
import { WebClient, csrfOf } from '../../src/test-support/web-client.js'
import { seed, type Seeded } from './backends.js'
import { V3, request, type Answer } from './flow.js'
import { freePort, spawnServer, type ServerProcess } from './processes.js'

/** A reverse proxy a test started in front of the instances. */
export interface RunningProxy {
  /** What the proxy's access log holds so far. */
  accessLog(): string
  /** What the proxy's error log holds so far. */
  errorLog(): string
}

/**
 * Starts a proxy listening on 127.0.0.1:`listen` that spreads requests over `instances` (their URLs), and
 * registers its own stop in `cleanups`.
 */
export type StartProxy = (listen: number, instances: string[], cleanups: Cleanups) => Promise<RunningProxy>

export type Cleanups = (() => Promise<unknown> | void)[]

/** Two instances on a fresh PostgreSQL database, on fixed ports, behind a proxy. */
export interface ProxiedPair {
  publicUrl: string
  seeded: Seeded
  database: TemporaryPostgresDatabase
  env: NodeJS.ProcessEnv
  ports: number[]
  instances: ServerProcess[]
  proxy: RunningProxy
}

export async function startProxiedPair(startProxy: StartProxy, cleanups: Cleanups): Promise<ProxiedPair> {
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

  const proxy = await startProxy(
    listen,
    instances.map((instance) => instance.url),
    cleanups,
  )
  let health = await request(`${publicUrl}/healthz`)
  for (let attempt = 0; attempt < 50 && health.status !== 200; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    health = await request(`${publicUrl}/healthz`)
  }
  expect(health.status).toBe(200)
  return { publicUrl, seeded, database, env, ports, instances, proxy }
}

/**
 * The whole v3 flow through the proxy, the user approving on the website as a browser would, and checks
 * that both instances took part. Returns the secrets the flow used (none may appear in a proxy's log).
 */
export async function websiteFlowThroughProxy(pair: ProxiedPair, proxyName: string): Promise<string[]> {
  const { publicUrl, seeded, instances } = pair
  const requestsSeen = (instance: ServerProcess): number => instance.output.filter((line) => line.includes('"msg":"request"')).length
  const linesWritten = () => new Promise((resolve) => setTimeout(resolve, 500))
  await linesWritten()
  const before = instances.map(requestsSeen)

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
  expect(
    served.every((count) => count > 0),
    `requests per instance: ${served.join(', ')}`,
  ).toBe(true)
  console.info(`${proxyName}: one sign-in and approval flow, ${served.join(' + ')} requests on the two instances`)
  return [seeded.apiKey, token, session.body.session_id as string, user.password]
}

/**
 * Restarts both instances one after the other (SIGTERM, start again on the same port) while clients run
 * the whole v3 flow and check a standing session without pause, and asserts that every request got its
 * 200. `proxyErrors` is the proxy's own account of failures, shown when some request failed.
 */
export async function rollingRestartThroughProxy(pair: ProxiedPair, proxyName: string, proxyErrors: () => string): Promise<void> {
  const { publicUrl, seeded, database, env, ports, instances } = pair
  const v3 = new V3(publicUrl, seeded.apiKey)
  const [alice, bob] = seeded.users as [Seeded['users'][0], Seeded['users'][0]]
  const standing = await v3.sessionNew(await v3.approvedToken(alice))
  expect(standing.status).toBe(200)

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
    // As docs/deployment.md says: the next instance stops only after the proxy's fail_timeout (2 s) and
    // one second more have passed (nginx counts it in whole seconds: a failure at 10.9 s lasts until 13 s).
    await pause(3_500)
  }
  running = false
  await Promise.all(clients)

  const failed = answers.filter((answer) => answer.status !== 200)
  const perKind = new Map<string, number>()
  for (const answer of answers) perKind.set(answer.what, (perKind.get(answer.what) ?? 0) + 1)
  console.info(
    `${proxyName} rolling restart: ${answers.length} requests (${[...perKind].map(([what, n]) => `${what} ${n}`).join(', ')}), ${failed.length} not 200`,
  )
  const failureKinds = new Map<string, number>()
  for (const answer of failed) {
    const kind = `${answer.what} ${answer.status} ${answer.error ?? ''}`
    failureKinds.set(kind, (failureKinds.get(kind) ?? 0) + 1)
  }
  expect(Object.fromEntries(failureKinds), proxyErrors()).toEqual({})
  expect(answers.filter((answer) => answer.what === 'session/new').length).toBeGreaterThan(10)
}
