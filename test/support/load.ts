import type { Seeded } from './backends.js'
import { V3 } from './flow.js'

/** What a load run learned from the answers it got: only 200s count as acknowledged. */
export interface Ledger {
  /** session_id → account id, acknowledged by session/new with a 200 and not (possibly) deleted since. */
  live: Map<string, number>
  /** Sessions whose DELETE was acknowledged with a 200. */
  deleted: Set<string>
  /** Sessions whose DELETE was sent but never answered: either outcome is correct. */
  deleteUnknown: Set<string>
}

export function emptyLedger(): Ledger {
  return { live: new Map(), deleted: new Set(), deleteUnknown: new Set() }
}

export interface LoadStats {
  requests: number
  sessions: number
  deletes: number
  /** Status codes other than the expected ones, with counts (network errors as 0). */
  unexpected: Map<string, number>
}

/**
 * Drives the whole v3 flow from `workers` concurrent loops until `stop()` resolves: token/new,
 * validate_with_login, session/new, account, and for about a third of the sessions DELETE and a check
 * that the session is gone. Every acknowledged outcome goes into `ledger`.
 */
export async function runFlowLoad(v3: V3, seeded: Seeded, ledger: Ledger, options: { workers: number; until: Promise<unknown> }): Promise<LoadStats> {
  let stopped = false
  void options.until.then(() => (stopped = true))
  const stats: LoadStats = { requests: 0, sessions: 0, deletes: 0, unexpected: new Map() }
  const note = (what: string, status: number): void => {
    const key = `${what} ${status}`
    stats.unexpected.set(key, (stats.unexpected.get(key) ?? 0) + 1)
  }
  const worker = async (index: number): Promise<void> => {
    for (let i = 0; !stopped; i++) {
      const user = seeded.users[(index + i) % seeded.users.length]!
      stats.requests++
      const token = await v3.tokenNew()
      if (token.status !== 200) return note('token/new', token.status)
      stats.requests++
      const validated = await v3.validate(token.body.request_token, user.username, user.password)
      if (validated.status !== 200) return note('validate', validated.status)
      stats.requests++
      const session = await v3.sessionNew(token.body.request_token)
      if (session.status !== 200) return note('session/new', session.status)
      const sessionId = session.body.session_id as string
      ledger.live.set(sessionId, user.id)
      stats.sessions++
      stats.requests++
      const account = await v3.account(sessionId)
      if (account.status !== 200) return note('account', account.status)
      if (account.body.id !== user.id) throw new Error(`session of ${user.id} answered as account ${account.body.id}`)
      if (i % 3 !== 0) continue
      ledger.live.delete(sessionId)
      ledger.deleteUnknown.add(sessionId)
      stats.requests++
      const deleted = await v3.deleteSession(sessionId)
      if (deleted.status !== 200) return note('delete', deleted.status)
      ledger.deleteUnknown.delete(sessionId)
      ledger.deleted.add(sessionId)
      stats.deletes++
      stats.requests++
      const gone = await v3.account(sessionId)
      if (gone.status === 200) throw new Error('deleted session answered 200')
      // Anything but 401 here (a lost connection, a 503 in an outage) is noted for the test to judge.
      if (gone.status !== 401) return note('gone', gone.status)
    }
  }
  await Promise.all(Array.from({ length: options.workers }, (_, index) => worker(index)))
  return stats
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function inBatches<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane))
}
