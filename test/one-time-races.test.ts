import { describe, expect, it } from 'vitest'
import { availableBackends, type Seeded } from './support/backends.js'
import { request } from './support/flow.js'
import { WebClient, csrfOf } from '../src/test-support/web-client.js'
import { twoInstances } from './support/instances.js'

const LONG = process.env.CINEPASS_LONG_TESTS === '1'
const ROUNDS = 200
const RACERS = 50
const kinds = await availableBackends()

describe.each(kinds)('one-time use under races on %s', (kind) => {
  // Two instances on one database: racers alternate between them, as behind a load balancer.
  const suite = twoInstances(kind)

  it(
    `session/new: ${RACERS} concurrent calls on one approved token succeed exactly once, ${ROUNDS} rounds`,
    async () => {
      const [before] = await suite.backend.query('SELECT count(*) AS n FROM sessions')
      const failures = new Map<string, number>()
      for (let round = 0; round < ROUNDS; round++) {
        const token = await suite.instances[round % 2]!.approvedToken(suite.seeded.users[0]!)
        const answers = await Promise.all(Array.from({ length: RACERS }, (_, i) => suite.instances[i % 2]!.sessionNew(token)))
        const winners = answers.filter((answer) => answer.status === 200)
        expect(winners, `round ${round}`).toHaveLength(1)
        expect(winners[0]!.body.session_id).toMatch(/^[0-9a-f]{40}$/)
        for (const answer of answers.filter((a) => a.status !== 200)) {
          // The losers are told the token is no longer valid (401/33), never a server error.
          expect(answer).toMatchObject({ status: 401, body: { success: false, status_code: 33 } })
          const key = `${answer.status}/${answer.body.status_code}`
          failures.set(key, (failures.get(key) ?? 0) + 1)
        }
        const account = await suite.instances[(round + 1) % 2]!.account(winners[0]!.body.session_id)
        expect(account).toMatchObject({ status: 200, body: { id: suite.seeded.users[0]!.id } })
      }
      const [after] = await suite.backend.query('SELECT count(*) AS n FROM sessions')
      expect(Number(after!.n) - Number(before!.n)).toBe(ROUNDS)
      console.info(`session/new race (${kind}): ${ROUNDS} rounds × ${RACERS}: ${ROUNDS} winners, losers ${JSON.stringify(Object.fromEntries(failures))}`)
    },
    (LONG ? 600 : 180) * 1000,
  )

  it(
    `validate_with_login: of two users racing on one token exactly one wins and owns the session, ${ROUNDS} rounds`,
    async () => {
      const [alice, bob] = suite.seeded.users as [Seeded['users'][0], Seeded['users'][0]]
      const wins = { [alice.id]: 0, [bob.id]: 0 }
      for (let round = 0; round < ROUNDS; round++) {
        const token = (await suite.instances[0]!.tokenNew()).body.request_token as string
        const [a, b] = await Promise.all([
          suite.instances[round % 2]!.validate(token, alice.username, alice.password),
          suite.instances[(round + 1) % 2]!.validate(token, bob.username, bob.password),
        ])
        const outcomes = [a, b].map((answer) => answer.status)
        expect(outcomes.sort(), `round ${round}`).toEqual([200, 401])
        const loser = a.status === 200 ? b : a
        expect(loser.body).toMatchObject({ success: false, status_code: 33 })
        const winner = a.status === 200 ? alice : bob
        wins[winner.id]!++
        const session = await suite.instances[round % 2]!.sessionNew(token)
        expect(session.status).toBe(200)
        const account = await suite.instances[(round + 1) % 2]!.account(session.body.session_id)
        expect(account).toMatchObject({ status: 200, body: { id: winner.id, username: winner.username } })
      }
      console.info(`validate_with_login race (${kind}): ${ROUNDS} rounds, wins ${JSON.stringify(wins)}`)
    },
    (LONG ? 600 : 180) * 1000,
  )

  it(
    `DELETE session racing account calls on both instances: after the DELETE's 200 no call started later succeeds, ${ROUNDS / 4} rounds`,
    async () => {
      const user = suite.seeded.users[1]!
      let stale = 0
      let lateCalls = 0
      for (let round = 0; round < ROUNDS / 4; round++) {
        const session = await suite.instances[round % 2]!.sessionNew(await suite.instances[round % 2]!.approvedToken(user))
        expect(session.status).toBe(200)
        const sessionId = session.body.session_id as string
        let deletedAt = Infinity
        // Callers keep checking the session on both instances while the DELETE runs on one of them.
        const callers = Array.from({ length: 8 }, async (_, i) => {
          const outcomes: { startedAt: number; status: number }[] = []
          // Each caller goes on until one of its calls started after the DELETE was answered.
          while (outcomes.length < 2_000 && (outcomes.at(-1)?.startedAt ?? -Infinity) <= deletedAt) {
            const startedAt = performance.now()
            const answer = await suite.instances[i % 2]!.account(sessionId)
            if (answer.status !== 200) expect(answer).toMatchObject({ status: 401, body: { success: false, status_code: 3 } })
            outcomes.push({ startedAt, status: answer.status })
          }
          return outcomes
        })
        const deleted = await suite.instances[(round + 1) % 2]!.deleteSession(sessionId)
        expect(deleted).toMatchObject({ status: 200, body: { success: true } })
        deletedAt = performance.now()
        const after = (await Promise.all(callers)).flat().filter((outcome) => outcome.startedAt > deletedAt)
        lateCalls += after.length
        stale += after.filter((outcome) => outcome.status === 200).length
        // And at once on the other instance (T36): the delete is visible everywhere.
        expect((await suite.instances[round % 2]!.account(sessionId)).status).toBe(401)
      }
      expect(stale).toBe(0)
      expect(lateCalls).toBeGreaterThan(0)
      console.info(`delete race (${kind}): ${ROUNDS / 4} rounds, ${lateCalls} calls started after the DELETE's 200, ${stale} succeeded`)
    },
    (LONG ? 600 : 180) * 1000,
  )

  it(
    `access_token: ${RACERS} concurrent calls on one approved v4 request token succeed exactly once, ${ROUNDS} rounds`,
    async () => {
      const user = suite.seeded.users[0]!
      const bearer = (token: string): RequestInit['headers'] => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' })
      const post = (base: string, body: object): Promise<import('./support/flow.js').Answer> =>
        request(`${base}/4/auth/access_token`, { method: 'POST', headers: bearer(suite.seeded.readAccessToken), body: JSON.stringify(body) })
      // The user approves on the website, signed in once, as a browser would.
      const web = new WebClient(suite.servers[0]!.url)
      expect((await web.signIn(user)).status).toBe(303)
      const [before] = await suite.backend.query('SELECT count(*) AS n FROM access_tokens')
      for (let round = 0; round < ROUNDS; round++) {
        const created = await request(`${suite.servers[round % 2]!.url}/4/auth/request_token`, {
          method: 'POST',
          headers: bearer(suite.seeded.readAccessToken),
          body: '{}',
        })
        expect(created.status).toBe(200)
        const requestToken = created.body.request_token as string
        const page = await web.get(`/auth/access?request_token=${encodeURIComponent(requestToken)}`)
        const decided = await web.post('/auth/access/approve', { _csrf: csrfOf(page.text), request_token: requestToken })
        expect(decided.status, `round ${round}`).toBeLessThan(400)
        const answers = await Promise.all(Array.from({ length: RACERS }, (_, i) => post(suite.servers[i % 2]!.url, { request_token: requestToken })))
        const winners = answers.filter((answer) => answer.status === 200)
        expect(winners, `round ${round}`).toHaveLength(1)
        for (const answer of answers.filter((a) => a.status !== 200)) {
          expect(answer).toMatchObject({ status: 401, body: { success: false, status_code: 33 } })
        }
        const account = await request(`${suite.servers[(round + 1) % 2]!.url}/3/account`, { headers: bearer(winners[0]!.body.access_token) })
        expect(account).toMatchObject({ status: 200, body: { id: user.id } })
      }
      const [after] = await suite.backend.query('SELECT count(*) AS n FROM access_tokens')
      expect(Number(after!.n) - Number(before!.n)).toBe(ROUNDS)
      console.info(`access_token race (${kind}): ${ROUNDS} rounds × ${RACERS}: exactly one access token each`)
    },
    (LONG ? 600 : 180) * 1000,
  )
})
