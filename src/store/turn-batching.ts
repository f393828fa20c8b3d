import type { Row } from './rows.js'

// Under load many requests reach the store within one event-loop turn. Handing their work to the
// database together costs one statement (and, for PostgreSQL, one round trip) instead of one each:
// in node-pg a query costs more CPU in this process than PostgreSQL spends on it, and in SQLite each
// statement outside a transaction takes and drops the file's read locks (docs/performance.md).

/** Most items one batch carries: keeps one statement's parameters, parse and run time bounded. */
export const MAX_BATCH_ROWS = 500

/**
 * Items gathered during one event-loop turn and handed to `handle` together, at `setImmediate` or as
 * soon as `maxItems` are waiting. `handle` must settle every item itself and never reject.
 * `flush()` hands over what is waiting and waits for every batch in flight (the store's `close()`).
 */
export class TurnQueue<Item> {
  #items: Item[] = []
  #scheduled: NodeJS.Immediate | undefined
  readonly #inFlight = new Set<Promise<void>>()

  constructor(
    private readonly handle: (batch: Item[]) => Promise<void>,
    private readonly maxItems = MAX_BATCH_ROWS,
  ) {}

  push(item: Item): void {
    this.#items.push(item)
    if (this.#items.length >= this.maxItems) this.#dispatch()
    else this.#scheduled ??= setImmediate(() => this.#dispatch())
  }

  async flush(): Promise<void> {
    this.#dispatch()
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight)
  }

  #dispatch(): void {
    if (this.#scheduled) clearImmediate(this.#scheduled)
    this.#scheduled = undefined
    const batch = this.#items
    if (batch.length === 0) return
    this.#items = []
    const done: Promise<void> = this.handle(batch).finally(() => this.#inFlight.delete(done))
    this.#inFlight.add(done)
  }
}

interface QueuedLookup<Key> {
  key: Key
  resolve: (row: Row | undefined) => void
  reject: (error: unknown) => void
}

/**
 * Lookups by one key column, gathered per event-loop turn into one statement. Contract:
 * - `find(key)` resolves with the row whose `keyColumn` is `key`, or undefined when there is none.
 * - Lookups of one turn (at most `MAX_BATCH_ROWS`) run as one `read(keys)`, which returns the rows
 *   whose `keyColumn` is among the distinct `keys`; a lone lookup runs the same statement with one key.
 * - A failure of `read` rejects every lookup of that statement with the same error.
 */
export class LookupBatcher<Key extends string | number> {
  readonly #queue = new TurnQueue<QueuedLookup<Key>>((batch) => this.#lookUp(batch))

  constructor(
    private readonly keyColumn: string,
    private readonly read: (keys: Key[]) => Promise<Row[]>,
  ) {}

  find(key: Key): Promise<Row | undefined> {
    return new Promise((resolve, reject) => this.#queue.push({ key, resolve, reject }))
  }

  flush(): Promise<void> {
    return this.#queue.flush()
  }

  // Never rejects: every outcome is delivered to the callers' own promises.
  async #lookUp(batch: QueuedLookup<Key>[]): Promise<void> {
    let rows: Row[]
    try {
      rows = await this.read([...new Set(batch.map((lookup) => lookup.key))])
    } catch (error) {
      for (const lookup of batch) lookup.reject(error)
      return
    }
    const byKey = new Map(rows.map((row) => [row[this.keyColumn] as Key, row]))
    for (const lookup of batch) lookup.resolve(byKey.get(lookup.key))
  }
}
