import { StoreUnavailableError } from '../../core/errors.js'
import type { Param } from '../sql/queryable.js'
import { TurnQueue } from './turn-queue.js'

interface QueuedRow {
  values: Param[]
  resolve: () => void
  reject: (error: unknown) => void
}

// Group commit: under load many requests insert into the same table within one event-loop turn; one
// multi-row statement per turn costs one round trip and one commit (one WAL flush) instead of one of
// each per request, and holds one pooled connection instead of many.
/**
 * Group commit of single-row INSERTs into one table, each its own autocommitted statement. Contract:
 * - `insert(values)` queues one row. Rows queued during one event-loop turn are written by ONE
 *   statement, `multi`, whose parameters are one array per column (at most `MAX_BATCH_ROWS` rows);
 *   a lone row uses `single`, whose parameters are the row's values.
 * - Acknowledge after commit: a caller's promise resolves only once that statement has committed, so
 *   a resolved insert is as durable as a single-row one.
 * - `write` runs a statement and maps driver errors to the store's. When the batch fails with
 *   StoreUnavailableError, every caller of the batch rejects with that same error. Any other failure
 *   (a duplicate key, a foreign-key violation in one row) falls back to inserting the batch's rows
 *   one by one, so only the offending caller rejects, with its own error, and the others commit.
 */
export class InsertBatcher {
  readonly #queue = new TurnQueue<QueuedRow>((batch) => this.#commit(batch))

  constructor(
    private readonly single: string,
    private readonly multi: string,
    private readonly write: (sql: string, params: unknown[]) => Promise<void>,
  ) {}

  insert(values: Param[]): Promise<void> {
    return new Promise((resolve, reject) => this.#queue.push({ values, resolve, reject }))
  }

  flush(): Promise<void> {
    return this.#queue.flush()
  }

  // Never rejects: every outcome is delivered to the callers' own promises.
  async #commit(batch: QueuedRow[]): Promise<void> {
    const [first] = batch
    if (!first) return
    if (batch.length === 1) return this.#commitOne(first)
    try {
      await this.write(
        this.multi,
        first.values.map((_, column) => batch.map((row) => row.values[column])),
      )
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        for (const row of batch) row.reject(error)
        return
      }
      for (const row of batch) await this.#commitOne(row)
      return
    }
    for (const row of batch) row.resolve()
  }

  async #commitOne(row: QueuedRow): Promise<void> {
    try {
      await this.write(this.single, row.values)
      row.resolve()
    } catch (error) {
      row.reject(error)
    }
  }
}
