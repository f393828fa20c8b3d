// Under load many requests reach the store within one event-loop turn. Handing their work to the
// database together costs one statement (and, for PostgreSQL, one round trip) or one commit instead
// of one each: in node-pg a query costs more CPU in this process than PostgreSQL spends on it, and in
// SQLite each statement outside a transaction takes and drops the file's read locks, and each commit
// syncs the WAL (docs/performance.md).

/** Most items one batch carries: keeps one statement's parameters, parse and run time bounded. */
export const MAX_BATCH_ROWS = 500

/**
 * Items gathered during one event-loop turn and handed to `handle` together, at `setImmediate` (after
 * the turn's I/O callbacks, so every request parsed in it joins) or as soon as `maxItems` are
 * waiting. `handle` must settle every item itself and never reject.
 * - `pause()` holds batches back: items keep gathering, across turns, until `resume()` hands them
 *   over as one batch.
 * - `flush()` hands over what is waiting (even while paused) and waits for every batch in flight
 *   (a store's `close()`).
 */
export class TurnQueue<Item> {
  #items: Item[] = []
  #scheduled: NodeJS.Immediate | undefined
  #paused = false
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

  pause(): void {
    this.#paused = true
  }

  resume(): void {
    this.#paused = false
    if (this.#items.length > 0) this.#scheduled ??= setImmediate(() => this.#dispatch())
  }

  async flush(): Promise<void> {
    this.#dispatch(true)
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight)
  }

  #dispatch(evenPaused = false): void {
    if (this.#scheduled) clearImmediate(this.#scheduled)
    this.#scheduled = undefined
    const batch = this.#items
    if (batch.length === 0 || (this.#paused && !evenPaused)) return
    this.#items = []
    const done: Promise<void> = this.handle(batch).finally(() => this.#inFlight.delete(done))
    this.#inFlight.add(done)
  }
}
