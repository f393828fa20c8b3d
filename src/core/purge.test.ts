import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { temporarySqliteStore } from '../test-support/fixtures.js'
import { ManualClock } from './clock.js'
import { StoreUnavailableError } from './errors.js'
import { purgeAllExpired, startPurgeSweep } from './purge.js'
import type { RequestTokenRecord } from './store.js'
import { pendingRequestTokenRow } from '../test-support/records.js'

const hex = (bytes: number): string => randomBytes(bytes).toString('hex')

describe('purging expired rows', () => {
  let fixture: ReturnType<typeof temporarySqliteStore>
  const clock = new ManualClock()
  const appId = hex(12)

  const token = (expiresAt: number): RequestTokenRecord => pendingRequestTokenRow(appId, clock.now(), { expiresAt })

  beforeEach(async () => {
    fixture = temporarySqliteStore()
    await fixture.store.insertApplication({ id: appId, name: 'purge', apiKeyHash: hex(32), suspended: false, createdAt: clock.now(), redirectOrigins: [] })
  })

  afterEach(async () => {
    vi.restoreAllMocks()
    await fixture.remove()
  })

  it('purgeAllExpired() deletes every dead row in calls of at most `batch` rows and keeps live ones', async () => {
    const dead = Array.from({ length: 25 }, () => token(clock.now() + 1))
    const live = token(clock.now() + 60_000)
    for (const row of [...dead, live]) await fixture.store.insertRequestToken(row)
    const purge = vi.spyOn(fixture.store, 'purgeExpired')
    clock.advance(1000)
    expect(await purgeAllExpired(fixture.store, clock, 10)).toBe(25)
    expect(purge.mock.calls.map(([, limit]) => limit)).toEqual([10, 10, 10])
    expect(purge.mock.calls.every(([now]) => now === clock.now())).toBe(true)
    expect(await fixture.store.findRequestToken(live.tokenHash)).not.toBeNull()
    for (const row of dead) expect(await fixture.store.findRequestToken(row.tokenHash)).toBeNull()
  })

  it('startPurgeSweep() purges at every interval, retries after a failed sweep, and stops', async () => {
    const errors: unknown[] = []
    const swept: number[] = []
    vi.spyOn(fixture.store, 'purgeExpired').mockRejectedValueOnce(new StoreUnavailableError())
    await fixture.store.insertRequestToken(token(clock.now() + 1))
    clock.advance(1000)
    const sweep = startPurgeSweep({ store: fixture.store, clock, intervalMs: 20, batch: 10, onSwept: (n) => swept.push(n), onError: (e) => errors.push(e) })
    await vi.waitFor(() => expect(swept).toContain(1), { timeout: 5000 })
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(StoreUnavailableError)

    // Rows that die later are purged by a later sweep, without a restart.
    const later = token(clock.now() + 1)
    await fixture.store.insertRequestToken(later)
    clock.advance(1000)
    await vi.waitFor(async () => expect(await fixture.store.findRequestToken(later.tokenHash)).toBeNull(), { timeout: 5000 })

    await sweep.stop()
    const sweepsAtStop = swept.length
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(swept).toHaveLength(sweepsAtStop)
  })
})
