import { TurnQueue } from './turn-queue.js'

interface QueuedLookup<Key, Row> {
  key: Key
  resolve: (row: Row | undefined) => void
  reject: (error: unknown) => void
}

/**
 * Lookups by one key, gathered per event-loop turn into one statement. Contract:
 * - `find(key)` resolves with the row whose key (`keyOf`) is `key`, or undefined when there is none.
 * - Lookups of one turn (at most `MAX_BATCH_ROWS`) run as one `read(keys)`, which returns the rows
 *   whose key is among the distinct `keys`; a lone lookup runs the same statement with one key.
 * - A failure of `read` rejects every lookup of that statement with the same error.
 */
export class LookupBatcher<Key extends string | number, Row> {
  readonly #queue = new TurnQueue<QueuedLookup<Key, Row>>((batch) => this.#lookUp(batch))

  constructor(
    private readonly keyOf: (row: Row) => Key,
    private readonly read: (keys: Key[]) => Promise<Row[]>,
  ) {}

  find(key: Key): Promise<Row | undefined> {
    return new Promise((resolve, reject) => this.#queue.push({ key, resolve, reject }))
  }

  flush(): Promise<void> {
    return this.#queue.flush()
  }

  // Never rejects: every outcome is delivered to the callers' own promises.
  async #lookUp(batch: QueuedLookup<Key, Row>[]): Promise<void> {
    let rows: Row[]
    try {
      rows = await this.read([...new Set(batch.map((lookup) => lookup.key))])
    } catch (error) {
      for (const lookup of batch) lookup.reject(error)
      return
    }
    const byKey = new Map(rows.map((row) => [this.keyOf(row), row]))
    for (const lookup of batch) lookup.resolve(byKey.get(lookup.key))
  }
}
