import { createHash } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { createBackend, seed, type TestBackend } from './support/backends.js'
import { V3 } from './support/flow.js'
import { spawnServer } from './support/processes.js'

const ROUNDS = 5
const IN_FLIGHT = 32

const backends: TestBackend[] = []
afterAll(async () => {
  for (const backend of backends) await backend.remove()
})

// Group commit answers many guest_session/new requests after one commit (token/new writes nothing: a
// request token is stored only once someone acts on it); a crash just after those answers
// must not lose any of them. The kill comes from the same callback that received the 200, so the
// server gets no time to finish anything it had not finished before answering.
describe('group commit under kill -9 (sqlite)', () => {
  it('keeps every guest session acknowledged with 200, even the one answered right before the kill', async () => {
    const backend = await createBackend('sqlite')
    backends.push(backend)
    const seeded = await seed(backend.database, 1)
    const acknowledged: string[] = []
    for (let round = 0; round < ROUNDS; round++) {
      const server = await spawnServer(backend.database, { CINEPASS_SQLITE_SYNC: round % 2 === 0 ? 'normal' : 'full' })
      const v3 = new V3(server.url, seeded.apiKey)
      // Kill after a varying number of answers, so the kill lands at different points of a batch.
      const killAfter = 200 + round * 37
      let answered = 0
      let killed = false
      const worker = async (): Promise<void> => {
        while (!killed) {
          const answer = await v3.guestSession()
          if (answer.status !== 200) continue
          acknowledged.push(answer.body.guest_session_id as string)
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- another worker may have set it during the await above
          if (++answered >= killAfter && !killed) {
            killed = true
            server.child.kill('SIGKILL')
          }
        }
      }
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
      expect(await server.exited).toMatchObject({ signal: 'SIGKILL' })
    }
    const stored = new Set((await backend.query('SELECT session_hash FROM guest_sessions')).map((row) => row.session_hash as string))
    const missing = acknowledged.filter((token) => !stored.has(createHash('sha256').update(token).digest('hex')))
    console.info(`group commit kill -9: ${ROUNDS} rounds, ${acknowledged.length} acknowledged guest sessions, ${missing.length} missing`)
    expect(acknowledged.length).toBeGreaterThanOrEqual(ROUNDS * 200)
    expect(missing).toEqual([])
    expect(await backend.integrityProblems()).toEqual([])
  }, 120_000)
})
