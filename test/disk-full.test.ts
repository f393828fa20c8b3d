import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fillDisk, mountSmallDisk } from '../src/test-support/disk.js'
import { createBackend, seed, type Seeded, type TestBackend } from './support/backends.js'
import { V3 } from './support/flow.js'
import { spawnServer, type ServerProcess } from './support/processes.js'

// A small tmpfs holds the database, so the test can fill the disk without touching anyone else's.
const disk = mountSmallDisk(4, 'cinepass-diskfull-')
const mountPoint = { path: disk.path }
const mountProblem = disk.problem
if (mountProblem) console.warn(`disk-full test skipped: ${mountProblem}`)

describe.skipIf(mountProblem !== null)('disk full on SQLite', () => {
  let backend: TestBackend
  let seeded: Seeded
  let server: ServerProcess | undefined

  beforeAll(async () => {
    backend = await createBackend('sqlite', { dir: mountPoint.path })
    seeded = await seed(backend.database, 1)
  }, 60_000)

  afterAll(async () => {
    await server?.stop('SIGKILL')
    disk.remove()
  })

  it('fails writes closed with 503/9 and issues no session, keeps serving reads, and is intact once space returns', async () => {
    server = await spawnServer(backend.database)
    let v3 = new V3(server.url, seeded.apiKey)
    const user = seeded.users[0]!
    const existing = (await v3.sessionNew(await v3.approvedToken(user))).body.session_id as string
    const approved = await Promise.all(Array.from({ length: 10 }, () => v3.approvedToken(user)))
    const [{ n: sessionsBefore }] = (await backend.query('SELECT count(*) AS n FROM sessions')) as [{ n: number }]

    const filler = join(mountPoint.path, 'filler')
    fillDisk(filler)

    // Space the WAL already holds may take a few more commits; then every write must fail closed.
    const statuses = new Map<string, number>()
    let firstRefusal = -1
    for (let i = 0; i < 2000 && firstRefusal < 0; i++) {
      // A write: token/new writes nothing (a request token is stored once someone acts on it).
      const answer = await v3.guestSession()
      const key = `${answer.status}/${answer.body?.status_code ?? answer.error}`
      statuses.set(key, (statuses.get(key) ?? 0) + 1)
      if (answer.status !== 200) {
        expect(answer).toMatchObject({ status: 503, body: { success: false, status_code: 9 } })
        firstRefusal = i
      }
    }
    expect(firstRefusal).toBeGreaterThanOrEqual(0)
    // While the disk stays full a write either fails closed (503/9, nothing issued) or, when the WAL
    // can be rewritten in the space it already has (the background checkpointer caught up), commits:
    // a 200 only ever stands for a committed row.
    const refusedTokens: string[] = []
    const issuedWhileFull: string[] = []
    for (const token of approved) {
      const answer = await v3.sessionNew(token)
      if (answer.status === 200) issuedWhileFull.push(answer.body.session_id as string)
      else {
        expect(answer).toMatchObject({ status: 503, body: { success: false, status_code: 9 } })
        refusedTokens.push(token)
      }
    }
    expect(refusedTokens.length).toBeGreaterThan(0)
    for (let i = 0; i < 20; i++) {
      const answer = await v3.tokenNew()
      if (answer.status !== 200) expect(answer).toMatchObject({ status: 503, body: { status_code: 9 } })
      expect(await v3.account(existing)).toMatchObject({ status: 200, body: { id: user.id } })
    }
    const [{ n: sessionsWhileFull }] = (await backend.query('SELECT count(*) AS n FROM sessions')) as [{ n: number }]
    expect(Number(sessionsWhileFull)).toBe(Number(sessionsBefore) + issuedWhileFull.length)
    for (const sessionId of issuedWhileFull) expect(await v3.account(sessionId)).toMatchObject({ status: 200, body: { id: user.id } })

    rmSync(filler)
    // Space is back: the same server writes again, and the refused tokens were never consumed.
    for (const token of refusedTokens) {
      const answer = await v3.sessionNew(token)
      expect(answer.status).toBe(200)
      expect(await v3.account(answer.body.session_id)).toMatchObject({ status: 200, body: { id: user.id } })
    }
    expect(await backend.integrityProblems()).toEqual([])
    expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null })
    server = await spawnServer(backend.database)
    v3 = new V3(server.url, seeded.apiKey)
    expect(await v3.account(existing)).toMatchObject({ status: 200 })
    expect(await backend.integrityProblems()).toEqual([])
    console.info(
      `disk full: token/new answers until the first refusal ${JSON.stringify(Object.fromEntries(statuses))}; ${refusedTokens.length} session/new refused with 503/9 and later honoured, ${issuedWhileFull.length} committed in space the WAL already had`,
    )
  }, 120_000)
})
