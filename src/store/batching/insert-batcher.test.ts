import { describe, expect, it } from 'vitest'
import { StoreUnavailableError } from '../../core/errors.js'
import { InsertBatcher } from './insert-batcher.js'
import { MAX_BATCH_ROWS } from './turn-queue.js'

/** A statement runner with no database behind it: it records each statement and fails as told. */
function fakeWriter(fail: (sql: string, params: unknown[]) => Error | undefined = () => undefined) {
  const calls: { sql: string; params: unknown[] }[] = []
  const write = (sql: string, params: unknown[]): Promise<void> => {
    calls.push({ sql, params })
    const failure = fail(sql, params)
    return failure === undefined ? Promise.resolve() : Promise.reject(failure)
  }
  return { calls, write }
}

describe('InsertBatcher', () => {
  it('insert() calls made in one turn are written by one statement, one array per column', async () => {
    const { calls, write } = fakeWriter()
    const batcher = new InsertBatcher('single', 'multi', write)
    await Promise.all([batcher.insert(['a', 1]), batcher.insert(['b', 2]), batcher.insert(['c', 3])])
    expect(calls).toEqual([
      {
        sql: 'multi',
        params: [
          ['a', 'b', 'c'],
          [1, 2, 3],
        ],
      },
    ])
  })

  it('a lone insert() uses the single-row statement', async () => {
    const { calls, write } = fakeWriter()
    const batcher = new InsertBatcher('single', 'multi', write)
    await batcher.insert(['a', 1])
    expect(calls).toEqual([{ sql: 'single', params: ['a', 1] }])
  })

  it('a batch carries at most MAX_BATCH_ROWS rows', async () => {
    const { calls, write } = fakeWriter()
    const batcher = new InsertBatcher('single', 'multi', write)
    await Promise.all(Array.from({ length: MAX_BATCH_ROWS + 2 }, (_, i) => batcher.insert([i])))
    expect(calls.map((call) => (call.params[0] as unknown[]).length)).toEqual([MAX_BATCH_ROWS, 2])
  })

  it('when the batch statement fails otherwise, the rows are inserted one by one and only the offending caller rejects, with its own error', async () => {
    const duplicate = Object.assign(new Error('duplicate key'), { code: '23505' })
    const { calls, write } = fakeWriter((sql, params) => (sql === 'multi' || params[0] === 'b' ? duplicate : undefined))
    const batcher = new InsertBatcher('single', 'multi', write)
    const results = await Promise.allSettled([batcher.insert(['a']), batcher.insert(['b']), batcher.insert(['c'])])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((results[1] as PromiseRejectedResult).reason).toBe(duplicate)
    expect(calls.map((call) => call.sql)).toEqual(['multi', 'single', 'single', 'single'])
  })

  it('when the database is unavailable (or the statement timed out), every caller of the batch rejects with the same error and nothing is retried', async () => {
    const timeout = new StoreUnavailableError(Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }))
    const { calls, write } = fakeWriter(() => timeout)
    const batcher = new InsertBatcher('single', 'multi', write)
    const results = await Promise.allSettled([batcher.insert(['a']), batcher.insert(['b'])])
    expect(results.map((r) => r.status === 'rejected' && r.reason === timeout)).toEqual([true, true])
    expect(calls).toHaveLength(1)
  })

  it('flush() writes the rows still queued', async () => {
    const { calls, write } = fakeWriter()
    const batcher = new InsertBatcher('single', 'multi', write)
    const inserted = batcher.insert(['a'])
    await batcher.flush()
    expect(calls).toHaveLength(1)
    await inserted
  })
})
