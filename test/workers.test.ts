import { execFileSync } from 'node:child_process'
import { afterAll, describe, expect, it } from 'vitest'
import { createBackend, seed, type TestBackend } from './support/backends.js'
import { V3 } from './support/flow.js'
import { spawnServer } from './support/processes.js'

const backends: TestBackend[] = []
afterAll(async () => {
  for (const backend of backends) await backend.remove()
})

function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
  } catch {
    return []
  }
}

describe('cinepass serve --workers 2 (sqlite)', () => {
  it('serves the whole flow from two worker processes on one port, and SIGTERM drains them all and exits 0', async () => {
    const backend = await createBackend('sqlite')
    backends.push(backend)
    const seeded = await seed(backend.database, 1)
    const server = await spawnServer(backend.database, { CINEPASS_WORKERS: '2' })
    const workers = childrenOf(server.child.pid!)
    expect(workers).toHaveLength(2)
    const v3 = new V3(server.url, seeded.apiKey)
    // Tokens made by one worker are consumed by whichever answers next: one database behind both.
    const sessions = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const answer = await v3.sessionNew(await v3.approvedToken(seeded.users[0]!))
        expect(answer.status).toBe(200)
        return answer.body.session_id as string
      }),
    )
    for (const sessionId of sessions) expect((await v3.account(sessionId)).status).toBe(200)
    const inFlight = Array.from({ length: 20 }, () => v3.tokenNew())
    const exit = server.stop('SIGTERM')
    const answers = await Promise.all(inFlight)
    expect(answers.filter((a) => a.status !== 200 && a.status !== 0)).toEqual([])
    expect(await exit).toEqual({ code: 0, signal: null })
    for (const pid of workers) expect(() => process.kill(pid, 0)).toThrow()
  }, 60_000)
})
