import { describe, expect, it } from 'vitest'
import { LookupBatcher } from './lookup-batcher.js'

interface Row {
  key: string
  value: number
}

describe('LookupBatcher', () => {
  it('find() calls made in one turn run as one read of their distinct keys, each answered with its own row or undefined', async () => {
    const reads: string[][] = []
    const rows: Row[] = [
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
    ]
    const batcher = new LookupBatcher<string, Row>(
      (row) => row.key,
      (keys) => {
        reads.push(keys)
        return Promise.resolve(rows.filter((row) => keys.includes(row.key)))
      },
    )
    const found = await Promise.all(['a', 'b', 'a', 'x'].map((key) => batcher.find(key)))
    expect(found).toEqual([rows[0], rows[1], rows[0], undefined])
    expect(reads).toEqual([['a', 'b', 'x']])
  })

  it('a failed read rejects every lookup of that statement with its error', async () => {
    const failure = new Error('connection lost')
    const batcher = new LookupBatcher<string, Row>(
      (row) => row.key,
      () => Promise.reject(failure),
    )
    const results = await Promise.allSettled([batcher.find('a'), batcher.find('b')])
    expect(results.map((r) => r.status === 'rejected' && r.reason === failure)).toEqual([true, true])
  })
})
