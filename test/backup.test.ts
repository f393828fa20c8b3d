import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { temporaryDirectory } from '../src/test-support/fixtures.js'
import { createBackend, seed, type TestBackend } from './support/backends.js'
import { checkConsistency } from './support/consistency.js'
import { V3 } from './support/flow.js'
import { emptyLedger, inBatches, runFlowLoad } from './support/load.js'
import { runCli, spawnServer } from './support/processes.js'

const cleanups: (() => Promise<void> | void)[] = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

describe('cinepass backup', () => {
  it('copies a SQLite database under write load into a consistent file that cinepass serve opens', async () => {
    const backend = await createBackend('sqlite')
    cleanups.push(() => backend.remove())
    const seeded = await seed(backend.database, 4)
    const server = await spawnServer(backend.database)
    cleanups.push(async () => void (await server.stop('SIGKILL')))
    const v3 = new V3(server.url, seeded.apiKey)
    const ledger = emptyLedger()
    let finish!: () => void
    const load = runFlowLoad(v3, seeded, ledger, { workers: 6, until: new Promise<void>((resolve) => (finish = resolve)) })

    const copies: { backend: TestBackend; live: Map<string, number>; deleted: Set<string> }[] = []
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 600))
      const dir = temporaryDirectory('cinepass-backup-')
      cleanups.push(() => dir.remove())
      const copy = await createBackend('sqlite', { dir: dir.path })
      // What was acknowledged before the backup began must be in the copy.
      const live = new Map(ledger.live)
      const deleted = new Set(ledger.deleted)
      const result = await runCli(['backup', '--database', backend.database, '--to', copy.database, '--json'])
      expect(result, result.stderr).toMatchObject({ code: 0 })
      expect(JSON.parse(result.stdout)).toEqual({ database: 'sqlite', backup: copy.database })
      copies.push({ backend: copy, live, deleted })
    }
    finish()
    const stats = await load
    expect([...stats.unexpected.keys()]).toEqual([])
    expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null })

    for (const copy of copies) {
      const everDeleted = new Set([...ledger.deleted, ...ledger.deleteUnknown])
      await checkConsistency(copy.backend, {
        live: copy.live,
        deleted: copy.deleted,
        deleteUnknown: new Set([...everDeleted].filter((id) => !copy.deleted.has(id))),
      })
      const restored = await spawnServer(copy.backend.database)
      const onCopy = new V3(restored.url, seeded.apiKey)
      await inBatches([...copy.live], 16, async ([sessionId, accountId]) => {
        const answer = await onCopy.account(sessionId)
        // A session deleted after the backup began may be in the copy either way; any other must be there.
        if (!everDeleted.has(sessionId)) expect(answer).toMatchObject({ status: 200, body: { id: accountId } })
      })
      await inBatches([...copy.deleted], 16, async (sessionId) => {
        expect(await onCopy.account(sessionId)).toMatchObject({ status: 401, body: { status_code: 3 } })
      })
      // The copy is a working database: the whole flow runs on it.
      expect(await onCopy.sessionNew(await onCopy.approvedToken(seeded.users[0]!))).toMatchObject({ status: 200 })
      expect(await restored.stop('SIGTERM')).toEqual({ code: 0, signal: null })
    }
    console.info(
      `backup under load: ${stats.requests} requests, ${stats.sessions} sessions; copies held ${copies.map((c) => c.live.size).join(', ')} acknowledged live sessions`,
    )
  }, 120_000)

  it('refuses PostgreSQL with one line naming pg_dump', async () => {
    const result = await runCli(['backup', '--database', 'postgres://postgres@127.0.0.1:5432/whatever', '--to', '/tmp/never-written.db'])
    expect(result.code).toBe(2)
    expect(result.stderr).toBe('cinepass: backup copies SQLite databases only; for PostgreSQL use pg_dump\n')
  })

  it('refuses to overwrite an existing file', async () => {
    const backend = await createBackend('sqlite')
    cleanups.push(() => backend.remove())
    await seed(backend.database, 0)
    const dir = temporaryDirectory('cinepass-backup-')
    cleanups.push(() => dir.remove())
    const target = join(dir.path, 'copy.db')
    expect((await runCli(['backup', '--database', backend.database, '--to', target])).code).toBe(0)
    const again = await runCli(['backup', '--database', backend.database, '--to', target])
    expect(again.code).toBe(2)
    expect(again.stderr).toMatch(/already exists/)
  })
})
