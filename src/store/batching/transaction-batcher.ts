import { StoreUnavailableError } from '../../core/errors.js'
import type { Queryable } from '../sql/queryable.js'
import { TurnQueue } from './turn-queue.js'

/** What the group commit needs of a synchronous connection: `run` for `BEGIN IMMEDIATE`, `COMMIT`, `SAVEPOINT op`, … */
export interface TransactionRunner extends Pick<Queryable, 'run'> {
  /** Whether a transaction is open (the database rolls one back by itself on some failures). */
  readonly inTransaction: boolean
  /** Whether the connection is still usable. */
  readonly open: boolean
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown }

interface QueuedWrite {
  work: () => unknown
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

/**
 * Group commit over one synchronous connection (SQLite): the writes queued during one event-loop
 * turn run in one transaction. Contract:
 * - `write(work)` settles only after that transaction has committed, with what `work` returned.
 * - A write that throws fails alone, with its own error, and the others of its batch commit. Writes
 *   almost never throw, so the batch first runs bare; only when one throws is the transaction rolled
 *   back and the batch replayed with a SAVEPOINT around each write, which undoes the failing one
 *   alone (two savepoint statements per write would cost more than the write itself). So `work` may
 *   run twice, and must only touch the database.
 * - If the commit, or the database, fails (`unavailable`, or the connection is no longer open), every
 *   write of the batch rejects with StoreUnavailableError and none of them is kept.
 * - `pause()` holds batches back (the writes of several turns then share one); `resume()` lets them go.
 * - `flush()` commits (or fails) what is queued.
 */
export class TransactionBatcher {
  // No cap on a batch: every write of a turn (or of a pause) shares the one commit.
  readonly #queue = new TurnQueue<QueuedWrite>((batch) => {
    this.#commit(batch)
    return Promise.resolve()
  }, Infinity)

  constructor(
    private readonly connection: TransactionRunner,
    private readonly unavailable: (error: unknown) => boolean,
  ) {}

  write<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => this.#queue.push({ work, resolve: resolve as (value: unknown) => void, reject }))
  }

  pause(): void {
    this.#queue.pause()
  }

  resume(): void {
    this.#queue.resume()
  }

  flush(): Promise<void> {
    return this.#queue.flush()
  }

  #commit(batch: QueuedWrite[]): void {
    let outcomes: Outcome[]
    try {
      outcomes = this.#run(batch, false) ?? this.#run(batch, true)!
    } catch (error) {
      const failure = this.unavailable(error) || !this.connection.open ? new StoreUnavailableError(error) : error
      for (const op of batch) op.reject(failure)
      return
    }
    batch.forEach((op, i) => {
      const outcome = outcomes[i]!
      if (outcome.ok) op.resolve(outcome.value)
      else op.reject(outcome.error)
    })
  }

  /**
   * One transaction over `batch`, committed. With `isolate`, each write runs in its own savepoint and
   * one that throws is recorded as failed; without, a write that throws rolls everything back and the
   * result is undefined (replay isolated), unless it was alone, when its failure is the outcome.
   * A database failure (full, I/O, lost) throws: the whole batch fails.
   */
  #run(batch: QueuedWrite[], isolate: boolean): Outcome[] | undefined {
    const db = this.connection
    const outcomes: Outcome[] = []
    db.run('BEGIN IMMEDIATE', [])
    try {
      for (const op of batch) {
        if (isolate) db.run('SAVEPOINT op', [])
        try {
          outcomes.push({ ok: true, value: op.work() })
          if (isolate) db.run('RELEASE op', [])
        } catch (error) {
          if (this.unavailable(error) || !db.inTransaction) throw error
          if (!isolate) {
            db.run('ROLLBACK', [])
            return batch.length === 1 ? [{ ok: false, error }] : undefined
          }
          db.run('ROLLBACK TO op', [])
          db.run('RELEASE op', [])
          outcomes.push({ ok: false, error })
        }
      }
      db.run('COMMIT', [])
      return outcomes
    } catch (error) {
      if (db.inTransaction) db.run('ROLLBACK', [])
      throw error
    }
  }
}
