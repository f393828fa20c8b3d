import { describe, expect, it } from 'vitest'
import { StoreUnavailableError } from '../../core/errors.js'
import { failsWholeBatch } from '../postgres/errors.js'
import { KeyedWriteBatcher } from './keyed-write-batcher.js'

interface Request {
  key: string
  value: number
}

type Row = { batch_key: string; doubled: number | null }

const sqlError = (code: string, message: string): Error => Object.assign(new Error(message), { code })

/**
 * A batcher over a statement runner with no database behind it: the batch statement answers each
 * request with its value doubled (or fails as told); a request alone answers its value negated.
 */
function fakeBatcher(options: { failBatch?: Error; unsure?: (request: Request) => boolean; failAlone?: (request: Request) => Error | undefined } = {}) {
  const batches: string[][] = []
  const alone: string[] = []
  const batcher = new KeyedWriteBatcher<Request, number, Row>({
    key: (request) => request.key,
    run: (requests) => {
      batches.push(requests.map((request) => request.key))
      if (options.failBatch !== undefined) return Promise.reject(options.failBatch)
      return Promise.resolve(requests.map((request) => ({ batch_key: request.key, doubled: options.unsure?.(request) ? null : request.value * 2 })))
    },
    outcome: (row) => (row?.doubled === null ? undefined : row?.doubled),
    alone: (request) => {
      alone.push(request.key)
      const failure = options.failAlone?.(request)
      return failure === undefined ? Promise.resolve(-request.value) : Promise.reject(failure)
    },
    unavailable: failsWholeBatch,
  })
  return { batcher, batches, alone }
}

describe('KeyedWriteBatcher', () => {
  it('write() calls of one turn naming distinct keys are served by one statement, sent in key order', async () => {
    const { batcher, batches, alone } = fakeBatcher()
    const results = await Promise.all([batcher.write({ key: 'c', value: 3 }), batcher.write({ key: 'a', value: 1 }), batcher.write({ key: 'b', value: 2 })])
    expect(results).toEqual([6, 2, 4])
    expect(batches).toEqual([['a', 'b', 'c']])
    expect(alone).toEqual([])
  })

  it('a caller naming a key already in the batch is served after it, alone', async () => {
    const { batcher, batches, alone } = fakeBatcher()
    const results = await Promise.all([batcher.write({ key: 'a', value: 1 }), batcher.write({ key: 'a', value: 5 })])
    expect(results).toEqual([2, -5])
    expect(batches).toEqual([['a']])
    expect(alone).toEqual(['a'])
  })

  it('a caller whose row cannot tell its answer is served alone', async () => {
    const { batcher, alone } = fakeBatcher({ unsure: (request) => request.key === 'b' })
    expect(await Promise.all([batcher.write({ key: 'a', value: 1 }), batcher.write({ key: 'b', value: 2 })])).toEqual([2, -2])
    expect(alone).toEqual(['b'])
  })

  it('after a deadlock, each caller of the batch is retried alone, in the order they came', async () => {
    const { batcher, alone } = fakeBatcher({ failBatch: sqlError('40P01', 'deadlock detected') })
    expect(await Promise.all([batcher.write({ key: 'b', value: 2 }), batcher.write({ key: 'a', value: 1 })])).toEqual([-2, -1])
    expect(alone).toEqual(['b', 'a'])
  })

  it('after a statement timeout, each caller of the batch is retried alone', async () => {
    const { batcher, alone } = fakeBatcher({ failBatch: sqlError('57014', 'canceling statement due to statement timeout') })
    expect(await Promise.all([batcher.write({ key: 'a', value: 1 }), batcher.write({ key: 'b', value: 2 })])).toEqual([-1, -2])
    expect(alone).toEqual(['a', 'b'])
  })

  it('after a constraint failure, only the offending caller fails alone, with its own error', async () => {
    const refused = sqlError('23503', 'violates foreign key constraint')
    const { batcher } = fakeBatcher({ failBatch: refused, failAlone: (request) => (request.key === 'b' ? refused : undefined) })
    const results = await Promise.allSettled([batcher.write({ key: 'a', value: 1 }), batcher.write({ key: 'b', value: 2 })])
    expect(results).toEqual([
      { status: 'fulfilled', value: -1 },
      { status: 'rejected', reason: refused },
    ])
  })

  it('when the database is unavailable, every caller rejects with StoreUnavailableError and none is retried', async () => {
    const { batcher, alone } = fakeBatcher({ failBatch: sqlError('ECONNREFUSED', 'connect ECONNREFUSED') })
    const results = await Promise.allSettled([batcher.write({ key: 'a', value: 1 }), batcher.write({ key: 'a', value: 2 })])
    expect(results.map((r) => r.status === 'rejected' && r.reason instanceof StoreUnavailableError)).toEqual([true, true])
    expect(alone).toEqual([])
  })

  it('when a caller retried alone finds the database unavailable, the callers still waiting reject with that error without running', async () => {
    const lost = new StoreUnavailableError(new Error('Connection terminated'))
    const { batcher, alone } = fakeBatcher({ failBatch: sqlError('40P01', 'deadlock detected'), failAlone: () => lost })
    const results = await Promise.allSettled(['a', 'b', 'c'].map((key) => batcher.write({ key, value: 1 })))
    expect(results.map((r) => r.status === 'rejected' && r.reason === lost)).toEqual([true, true, true])
    expect(alone).toEqual(['a'])
  })
})
