import { expect } from 'vitest'
import type { TestBackend } from './backends.js'
import type { Ledger } from './load.js'

/** The database checks itself clean and has no row that could only come from a half-done operation. */
export async function checkConsistency(backend: TestBackend, ledger: Ledger): Promise<void> {
  expect(await backend.integrityProblems()).toEqual([])
  const [row] = await backend.query(`
    SELECT
      (SELECT count(*) FROM sessions s
         WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = s.account_id)
            OR NOT EXISTS (SELECT 1 FROM applications p WHERE p.id = s.app_id)) AS dangling_sessions,
      (SELECT count(*) FROM request_tokens
         WHERE consumed_at IS NOT NULL AND (status <> 'approved' OR account_id IS NULL)) AS bad_consumed,
      (SELECT count(*) FROM request_tokens WHERE consumed_at IS NOT NULL) AS consumed,
      (SELECT count(*) FROM sessions) AS sessions`)
  expect(Number(row!.dangling_sessions)).toBe(0)
  expect(Number(row!.bad_consumed)).toBe(0)
  // Each session/new consumes one token and writes one session in one transaction; only DELETEs
  // remove sessions. So consumed − sessions is the number of committed deletes: at least the
  // acknowledged ones, at most those plus the ones cut off by a kill.
  const committedDeletes = Number(row!.consumed) - Number(row!.sessions)
  expect(committedDeletes).toBeGreaterThanOrEqual(ledger.deleted.size)
  expect(committedDeletes).toBeLessThanOrEqual(ledger.deleted.size + ledger.deleteUnknown.size)
}
