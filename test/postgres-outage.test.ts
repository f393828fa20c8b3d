import { afterAll, describe, expect, it } from 'vitest'
import { postgresSkipReason } from '../src/test-support/postgres.js'
import { seed } from './support/backends.js'
import { V3, request, type Answer } from './support/flow.js'
import { emptyLedger, inBatches, runFlowLoad } from './support/load.js'
import { spawnServer, type ServerProcess } from './support/processes.js'
import { postgresBinaries, startThrowawayPostgres, type ThrowawayPostgres } from './support/throwaway-postgres.js'

// The outage test runs its own server; it needs the binaries, and (like every PostgreSQL test) is
// required in CI.
const skipReason = postgresBinaries() ? await postgresSkipReason('database outage') : 'no PostgreSQL server binaries under /usr/lib/postgresql'
if (skipReason && process.env.CI) throw new Error(`database outage: required in CI: ${skipReason}`)
if (skipReason) console.warn(`database outage: skipped: ${skipReason}`)

// The promise of the issue: during an outage every request is answered, with 503/9, within 2 s.
const OUTAGE_ANSWER_MS = 2000

let postgres: ThrowawayPostgres | undefined
const servers: ServerProcess[] = []
afterAll(async () => {
  for (const server of servers) await server.stop()
  await postgres?.remove()
}, 60_000)

async function timed(work: () => Promise<Answer>): Promise<{ answer: Answer; ms: number }> {
  const started = performance.now()
  const answer = await work()
  return { answer, ms: performance.now() - started }
}

describe.skipIf(skipReason !== null)('PostgreSQL outage', () => {
  it(
    'stopped under load: requests get 503/9 within 2 s and /readyz 503; started again: serving resumes without a restart and every acknowledged write is there',
    async () => {
      postgres = await startThrowawayPostgres()
      const seeded = await seed(postgres.url, 4)
      const server = await spawnServer(postgres.url)
      servers.push(server)
      const v3 = new V3(server.url, seeded.apiKey)
      const ledger = emptyLedger()

      // Load, then the database stops under it.
      let stopped!: () => void
      const stopping = new Promise<void>((resolve) => (stopped = resolve))
      const load = runFlowLoad(v3, seeded, ledger, { workers: 8, until: stopping })
      await new Promise((resolve) => setTimeout(resolve, 1500))
      await postgres.stop()
      stopped()
      const stats = await load
      expect(stats.sessions).toBeGreaterThan(0)
      // A worker ends at its first refusal; the refusals it met are the outage's 503s or nothing else.
      for (const key of stats.unexpected.keys()) expect(key).toMatch(/ 503$/)

      const liveSession = [...ledger.live.keys()][0]!
      const probes: (() => Promise<Answer>)[] = [
        () => v3.tokenNew(),
        () => v3.account(liveSession),
        () => v3.guestSession(),
        () => v3.validate('0'.repeat(40), seeded.users[0]!.username, seeded.users[0]!.password),
        () => v3.sessionNew('0'.repeat(40)),
      ]
      const during = await Promise.all([...probes, ...probes].map(timed))
      for (const { answer, ms } of during) {
        expect(answer).toMatchObject({ status: 503, body: { success: false, status_code: 9 } })
        expect(ms).toBeLessThan(OUTAGE_ANSWER_MS)
      }
      const ready = await timed(() => request(`${server.url}/readyz`))
      expect(ready.answer).toMatchObject({ status: 503, body: { status: 'unavailable' } })
      expect(ready.ms).toBeLessThan(OUTAGE_ANSWER_MS)

      await postgres.start()
      let readyAgain: Answer | undefined
      for (let attempt = 0; attempt < 100 && readyAgain?.status !== 200; attempt++) {
        readyAgain = await request(`${server.url}/readyz`)
        if (readyAgain.status !== 200) await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(readyAgain).toMatchObject({ status: 200, body: { status: 'ok' } })
      // The same process serves the whole flow again.
      const token = await v3.approvedToken(seeded.users[0]!)
      expect(await v3.sessionNew(token)).toMatchObject({ status: 200, body: { success: true } })

      // Every write acknowledged before the stop survived it.
      await inBatches([...ledger.live.entries()], 8, async ([sessionId, accountId]) => {
        expect(await v3.account(sessionId)).toMatchObject({ status: 200, body: { id: accountId } })
      })
      await inBatches([...ledger.deleted], 8, async (sessionId) => {
        expect(await v3.account(sessionId)).toMatchObject({ status: 401, body: { status_code: 3 } })
      })
      console.info(
        `outage: ${stats.sessions} sessions and ${stats.deletes} deletes acknowledged before the stop, all intact after it; ` +
          `answers during the outage in ${Math.round(Math.max(...during.map((d) => d.ms)))} ms at most`,
      )
      expect(await server.stop()).toEqual({ code: 0, signal: null })
    },
    120_000,
  )
})
