import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { WebClient, csrfOf } from '../src/test-support/web-client.js'
import { availableBackends } from './support/backends.js'
import { request } from './support/flow.js'
import { twoInstances } from './support/instances.js'
import { runCli } from './support/processes.js'

const ROUNDS = 3
// Concurrent callers per kind of sign-in, spread over both instances.
const API_LOGINS = 4
const WEB_LOGINS = 4
const CONVERTS = 6
// How long the callers go on before and after the change: every request in flight at the change lands.
const BEFORE_MS = 400
const AFTER_MS = 600
const kinds = await availableBackends()

/** A credential a caller was given: a v3 session (API login or convert/4) or a website session's cookies. */
type Issued = { via: 'api' | 'web' | 'convert'; sessionId?: string; cookies?: Map<string, string>; answeredAt: number }

describe.each(kinds)('credential changes racing sign-ins on %s', (kind) => {
  // Two instances on one database, as behind a load balancer; the change comes from the CLI. Guesses
  // with the old password after the change are failures the login throttle counts: not what this
  // test is about, so its limits are far out of reach.
  const suite = twoInstances(kind, {
    CINEPASS_LOGIN_PAIR_FAILURES: '1000000',
    CINEPASS_LOGIN_ACCOUNT_FAILURES: '1000000',
    CINEPASS_LOGIN_ADDRESS_FAILURES: '1000000',
  })

  const cli = async (args: string[], input?: string): Promise<void> => {
    const result = await runCli([...args, '--database', suite.backend.database], {}, input)
    expect(result, result.stderr).toMatchObject({ code: 0 })
  }

  /** A user access token of `user`, approved on the website as a browser would. */
  const accessToken = async (user: { username: string; password: string }): Promise<string> => {
    const bearer = { authorization: `Bearer ${suite.seeded.readAccessToken}`, 'content-type': 'application/json' }
    const web = new WebClient(suite.servers[0]!.url)
    expect((await web.signIn(user)).status).toBe(303)
    const created = await request(`${suite.servers[0]!.url}/4/auth/request_token`, { method: 'POST', headers: bearer, body: '{}' })
    const requestToken = created.body.request_token as string
    const page = await web.get(`/auth/access?request_token=${encodeURIComponent(requestToken)}`)
    expect((await web.post('/auth/access/approve', { _csrf: csrfOf(page.text), request_token: requestToken })).status).toBeLessThan(400)
    const answer = await request(`${suite.servers[1]!.url}/4/auth/access_token`, {
      method: 'POST',
      headers: bearer,
      body: JSON.stringify({ request_token: requestToken }),
    })
    expect(answer.status).toBe(200)
    return answer.body.access_token as string
  }

  /**
   * Signs `user` in over and over (API logins, website sign-ins, convert/4 of `token`) on both
   * instances while `change` runs, and for a while after it; returns every credential given out.
   */
  const signInsDuring = async (user: { username: string; password: string }, token: string, change: () => Promise<unknown>) => {
    let stop = false
    const issued: Issued[] = []
    const loop = (count: number, attempt: (i: number) => Promise<Omit<Issued, 'answeredAt'> | null>) =>
      Array.from({ length: count }, async (_, i) => {
        while (!stop) {
          const credential = await attempt(i)
          if (credential) issued.push({ ...credential, answeredAt: performance.now() })
        }
      })
    const callers = [
      ...loop(API_LOGINS, async (i) => {
        const v3 = suite.instances[i % 2]!
        const created = await v3.tokenNew()
        if ((await v3.validate(created.body.request_token, user.username, user.password)).status !== 200) return null
        const session = await suite.instances[(i + 1) % 2]!.sessionNew(created.body.request_token)
        return session.status === 200 ? { via: 'api', sessionId: session.body.session_id } : null
      }),
      ...loop(WEB_LOGINS, async (i) => {
        const web = new WebClient(suite.servers[i % 2]!.url)
        return (await web.signIn(user)).status === 303 ? { via: 'web', cookies: new Map(web.cookies) } : null
      }),
      ...loop(CONVERTS, async (i) => {
        const answer = await request(`${suite.servers[i % 2]!.url}/3/authentication/session/convert/4?api_key=${suite.seeded.apiKey}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ access_token: token }),
        })
        return answer.status === 200 ? { via: 'convert', sessionId: answer.body.session_id } : null
      }),
    ]
    await sleep(BEFORE_MS)
    const changeStartedAt = performance.now()
    try {
      await change()
    } finally {
      await sleep(AFTER_MS)
      stop = true
      await Promise.all(callers)
    }
    return { issued, late: issued.filter((credential) => credential.answeredAt > changeStartedAt).length }
  }

  /** The credentials of `issued` that still work, by kind of sign-in. */
  const stillWorking = async (issued: Issued[]): Promise<Record<string, number>> => {
    const working: Record<string, number> = { api: 0, web: 0, convert: 0 }
    await Promise.all(
      issued.map(async (credential, i) => {
        let works: boolean
        if (credential.cookies) {
          const web = new WebClient(suite.servers[i % 2]!.url)
          for (const [name, value] of credential.cookies) web.cookies.set(name, value)
          works = (await web.get('/')).status === 200
        } else {
          works = (await suite.instances[i % 2]!.account(credential.sessionId!)).status === 200
        }
        if (works) working[credential.via]!++
      }),
    )
    return working
  }

  /**
   * ROUNDS rounds of sign-ins racing `change` (each round given a fresh access token for the
   * converted sessions), `afterRace` run once the round's sign-ins have stopped: every credential
   * issued before or during a change must have stopped working.
   */
  const raceRounds = async (
    user: { username: string; password: string },
    change: (round: number) => Promise<unknown>,
    afterRace: (round: number) => unknown,
  ) => {
    let issuedCount = 0
    let lateCount = 0
    for (let round = 0; round < ROUNDS; round++) {
      const token = await accessToken(user)
      const { issued, late } = await signInsDuring(user, token, () => change(round))
      await afterRace(round)
      expect(await stillWorking(issued), `round ${round}: ${issued.length} issued, ${late} answered after the change began`).toEqual({
        api: 0,
        web: 0,
        convert: 0,
      })
      issuedCount += issued.length
      lateCount += late
    }
    return { issuedCount, lateCount }
  }

  it(`users set-password ends every session, website session and converted session issued before or during it, ${ROUNDS} rounds`, async () => {
    const user = { ...suite.seeded.users[0]! }
    const newPassword = (round: number) => `changed-${round}-${suite.seeded.users[0]!.password}`
    const { issuedCount, lateCount } = await raceRounds(
      user,
      (round) => cli(['users', 'set-password', user.username, '--password-stdin'], newPassword(round)),
      // Only once the round's sign-ins have stopped: they sign in with the password they began with.
      (round) => {
        user.password = newPassword(round)
      },
    )
    // The race was run: credentials were still being given out while the change was under way.
    expect(lateCount).toBeGreaterThan(0)
    console.info(
      `set-password race (${kind}): ${ROUNDS} rounds, ${issuedCount} credentials issued, ${lateCount} answered after the change began, none still working`,
    )
  }, 180_000)

  it(`users disable ends every credential issued before or during it, and enable brings none back, ${ROUNDS} rounds`, async () => {
    const user = suite.seeded.users[1]!
    const { issuedCount, lateCount } = await raceRounds(
      user,
      () => cli(['users', 'disable', user.username]),
      () => cli(['users', 'enable', user.username]),
    )
    expect(lateCount).toBeGreaterThan(0)
    // Enabled again, the user signs in as before.
    const session = await suite.instances[0]!.sessionNew(await suite.instances[1]!.approvedToken(user))
    expect((await suite.instances[1]!.account(session.body.session_id)).status).toBe(200)
    console.info(
      `disable/enable race (${kind}): ${ROUNDS} rounds, ${issuedCount} credentials issued, ${lateCount} answered after the disable began, none working after enable`,
    )
  }, 180_000)
})
