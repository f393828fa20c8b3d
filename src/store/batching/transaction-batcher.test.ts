import { describe, expect, it } from 'vitest'
import { StoreUnavailableError } from '../../core/errors.js'
import { TransactionBatcher, type TransactionRunner } from './transaction-batcher.js'

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * A connection with no database behind it: it keeps the rows a transaction writes, commits or
 * rolls them back as SQLite would, and fails the statements it is told to.
 */
class FakeConnection implements TransactionRunner {
  readonly statements: string[] = []
  committed: string[] = []
  #pending: string[] = []
  #savepoint = 0
  inTransaction = false
  open = true
  readonly failures = new Map<string, Error>()

  run(sql: string): number {
    this.statements.push(sql)
    const failure = this.failures.get(sql)
    if (failure !== undefined) {
      this.failures.delete(sql)
      throw failure
    }
    if (sql === 'BEGIN IMMEDIATE') {
      this.inTransaction = true
      this.#pending = []
    } else if (sql === 'COMMIT') {
      this.committed.push(...this.#pending)
      this.inTransaction = false
    } else if (sql === 'ROLLBACK') {
      this.inTransaction = false
    } else if (sql === 'SAVEPOINT op') this.#savepoint = this.#pending.length
    else if (sql === 'ROLLBACK TO op') this.#pending.length = this.#savepoint
    else if (sql !== 'RELEASE op') this.#pending.push(sql)
    return 1
  }
}

const ioError = (): Error => Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' })
const unavailable = (error: unknown): boolean => (error as { code?: unknown }).code === 'SQLITE_IOERR'

describe('TransactionBatcher', () => {
  it('write() calls made in one turn share one transaction and settle after its commit, each with its own result', async () => {
    const db = new FakeConnection()
    const batcher = new TransactionBatcher(db, unavailable)
    const writes = ['a', 'b', 'c'].map((row) => batcher.write(() => (db.run(`INSERT ${row}`), row.toUpperCase())))
    expect(db.statements).toEqual([])
    expect(await Promise.all(writes)).toEqual(['A', 'B', 'C'])
    expect(db.statements).toEqual(['BEGIN IMMEDIATE', 'INSERT a', 'INSERT b', 'INSERT c', 'COMMIT'])
    expect(db.committed).toEqual(['INSERT a', 'INSERT b', 'INSERT c'])
  })

  it('a write that throws fails alone with its own error; the batch is replayed with a savepoint per write and the others commit', async () => {
    const db = new FakeConnection()
    const batcher = new TransactionBatcher(db, unavailable)
    const refused = new Error('UNIQUE constraint failed')
    const results = await Promise.allSettled([
      batcher.write(() => db.run('INSERT a')),
      batcher.write(() => {
        db.run('INSERT b')
        throw refused
      }),
      batcher.write(() => db.run('INSERT c')),
    ])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((results[1] as PromiseRejectedResult).reason).toBe(refused)
    expect(db.committed).toEqual(['INSERT a', 'INSERT c'])
    expect(db.statements.slice(0, 4)).toEqual(['BEGIN IMMEDIATE', 'INSERT a', 'INSERT b', 'ROLLBACK'])
    expect(db.statements.filter((sql) => sql === 'SAVEPOINT op')).toHaveLength(3)
  })

  it('a lone write that throws is rejected with its error without a replay', async () => {
    const db = new FakeConnection()
    const batcher = new TransactionBatcher(db, unavailable)
    const refused = new Error('FOREIGN KEY constraint failed')
    await expect(
      batcher.write(() => {
        throw refused
      }),
    ).rejects.toBe(refused)
    expect(db.statements).toEqual(['BEGIN IMMEDIATE', 'ROLLBACK'])
  })

  it('rejects every write of a batch whose commit fails with StoreUnavailableError, keeps none, and commits the next batch', async () => {
    const db = new FakeConnection()
    const batcher = new TransactionBatcher(db, unavailable)
    db.failures.set('COMMIT', ioError())
    const results = await Promise.allSettled(['a', 'b'].map((row) => batcher.write(() => db.run(`INSERT ${row}`))))
    expect(results.map((r) => r.status === 'rejected' && r.reason instanceof StoreUnavailableError)).toEqual([true, true])
    expect(db.committed).toEqual([])
    expect(db.inTransaction).toBe(false)
    await batcher.write(() => db.run('INSERT c'))
    expect(db.committed).toEqual(['INSERT c'])
  })

  it('a write that finds the database unavailable fails the whole batch, without a replay', async () => {
    const db = new FakeConnection()
    const batcher = new TransactionBatcher(db, unavailable)
    db.failures.set('INSERT b', ioError())
    const results = await Promise.allSettled(['a', 'b', 'c'].map((row) => batcher.write(() => db.run(`INSERT ${row}`))))
    expect(results.map((r) => r.status === 'rejected' && r.reason instanceof StoreUnavailableError)).toEqual([true, true, true])
    expect(db.statements).not.toContain('SAVEPOINT op')
    expect(db.committed).toEqual([])
  })

  it('pause() holds batches back across turns; resume() commits what gathered as one batch', async () => {
    const db = new FakeConnection()
    const batcher = new TransactionBatcher(db, unavailable)
    batcher.pause()
    const first = batcher.write(() => db.run('INSERT a'))
    await nextTurn()
    await nextTurn()
    const second = batcher.write(() => db.run('INSERT b'))
    await nextTurn()
    expect(db.statements).toEqual([])
    batcher.resume()
    await Promise.all([first, second])
    expect(db.statements).toEqual(['BEGIN IMMEDIATE', 'INSERT a', 'INSERT b', 'COMMIT'])
  })

  it('flush() commits the writes still queued, even while paused', async () => {
    const db = new FakeConnection()
    const batcher = new TransactionBatcher(db, unavailable)
    batcher.pause()
    const write = batcher.write(() => db.run('INSERT a'))
    await batcher.flush()
    expect(db.committed).toEqual(['INSERT a'])
    await write
  })
})
