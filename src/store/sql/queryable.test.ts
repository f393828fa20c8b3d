import { describe, expect, it } from 'vitest'
import { all, get, numbered, perform, performAsync, run, type Param, type Work } from './queryable.js'

describe('numbered()', () => {
  it('numbers ? placeholders $1, $2, … in order, leaving quoted strings and identifiers alone', () => {
    expect(numbered(`UPDATE t SET a = ?, "b?" = 'why?' WHERE c = ? AND d = ?`)).toBe(`UPDATE t SET a = $1, "b?" = 'why?' WHERE c = $2 AND d = $3`)
  })
})

function* transfer(from: string, to: string): Work<number> {
  const row = yield* get<{ balance: number }>('SELECT balance FROM accounts WHERE id = ?', from)
  if (!row) return 0
  yield* run('UPDATE accounts SET balance = 0 WHERE id = ?', from)
  const rows = yield* all<{ id: string }>('SELECT id FROM accounts WHERE id = ?', to)
  return row.balance * rows.length
}

describe('perform() and performAsync()', () => {
  it('drive an operation statement by statement, each getting its own answer, synchronously or not', async () => {
    const seen: [string, string, Param[]][] = []
    const answer = (kind: string, sql: string, params: Param[]): unknown => {
      seen.push([kind, sql, params])
      return kind === 'get' ? { balance: 7 } : kind === 'all' ? [{ id: 'b' }, { id: 'b' }] : 1
    }
    const sync = {
      run: (sql: string, p: Param[]) => answer('run', sql, p) as number,
      get: (sql: string, p: Param[]) => answer('get', sql, p),
      all: (sql: string, p: Param[]) => answer('all', sql, p) as unknown[],
    }
    expect(perform(transfer('a', 'b'), sync)).toBe(14)
    const statements = [...seen]
    seen.length = 0
    const async = {
      run: (sql: string, p: Param[]) => Promise.resolve(sync.run(sql, p)),
      get: (sql: string, p: Param[]) => Promise.resolve(sync.get(sql, p)),
      all: (sql: string, p: Param[]) => Promise.resolve(sync.all(sql, p)),
    }
    expect(await performAsync(transfer('a', 'b'), async)).toBe(14)
    expect(seen).toEqual(statements)
    expect(statements.map(([kind, , params]) => [kind, params])).toEqual([
      ['get', ['a']],
      ['run', ['a']],
      ['all', ['b']],
    ])
  })
})
