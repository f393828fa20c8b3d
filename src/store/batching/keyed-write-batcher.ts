import { StoreUnavailableError } from '../../core/errors.js'
import { TurnQueue } from './turn-queue.js'

interface QueuedWrite<Request, Result> {
  request: Request
  resolve: (result: Result) => void
  reject: (error: unknown) => void
}

export interface KeyedWriteOptions<Request, Result, Row extends { batch_key: string }> {
  /** The row a request acts on. */
  key: (request: Request) => string
  /** The batch's one statement, with its driver's errors as they are. */
  run: (requests: Request[]) => Promise<Row[]>
  /** The caller's answer from its row; undefined when only a statement of its own can tell. */
  outcome: (row: Row | undefined, request: Request) => Result | undefined
  /** The request in a statement or transaction of its own, with the store's error mapping. */
  alone: (request: Request) => Promise<Result>
  /**
   * True when a failure of `run` means the database cannot serve anyone now; false when the batch as
   * a whole failed (a deadlock, a serialization failure, a timeout, a constraint) and its callers
   * may still succeed alone.
   */
  unavailable: (error: unknown) => boolean
}

// session/new and DELETE session were a statement (session/new a transaction: four round trips) and a
// commit per request, and ran at a fraction of the group-committed inserts' rate.
/**
 * Group commit of writes that act on one row each, named by a key (a token to consume, a session to
 * delete), where two callers naming the same row must be decided one after the other. Contract:
 * - `write(request)` settles as the store method it serves would alone (`alone`).
 * - Callers of one event-loop turn naming distinct keys are served by ONE autocommitted statement,
 *   `run(requests)` (in key order), which returns at most one row per request with its key in
 *   `batch_key`; `outcome(row, request)` turns it into the caller's answer. No caller is answered
 *   before the statement has committed.
 * - A caller naming a key an earlier caller of the same batch names too is served after the batch,
 *   alone: between them the row decides, as between two instances.
 * - A caller whose row cannot tell its answer (`outcome` gives undefined) is served alone too.
 * - When the statement fails because the database is unavailable, every caller of the batch rejects
 *   with StoreUnavailableError; on any other failure (a deadlock, a timeout, a constraint) each caller
 *   runs alone, so only an offending caller fails, with its own error; once one of them finds the
 *   database unavailable, the callers still waiting reject with that error.
 */
export class KeyedWriteBatcher<Request, Result, Row extends { batch_key: string }> {
  readonly #queue = new TurnQueue<QueuedWrite<Request, Result>>((batch) => this.#commit(batch))

  constructor(private readonly options: KeyedWriteOptions<Request, Result, Row>) {}

  write(request: Request): Promise<Result> {
    return new Promise((resolve, reject) => this.#queue.push({ request, resolve, reject }))
  }

  flush(): Promise<void> {
    return this.#queue.flush()
  }

  // Never rejects: every outcome is delivered to the callers' own promises.
  async #commit(batch: QueuedWrite<Request, Result>[]): Promise<void> {
    const { key, run, outcome, alone, unavailable } = this.options
    const first = new Map<string, QueuedWrite<Request, Result>>()
    const later: QueuedWrite<Request, Result>[] = []
    for (const caller of batch) {
      const name = key(caller.request)
      if (first.has(name)) later.push(caller)
      else first.set(name, caller)
    }
    // Sent in key order, so that two instances' batches most likely lock the rows they share in the
    // same order (the plan decides; a deadlock is replayed alone anyway); run alone, in the order they came.
    const callers = [...first.values()]
    const inKeyOrder = [...first.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, caller]) => caller)
    let rows: Row[] | undefined
    try {
      rows = await run(inKeyOrder.map((caller) => caller.request))
    } catch (error) {
      if (unavailable(error)) {
        const failure = new StoreUnavailableError(error)
        for (const caller of batch) caller.reject(failure)
        return
      }
      later.unshift(...callers)
    }
    if (rows) {
      const byKey = new Map(rows.map((row) => [row.batch_key, row]))
      for (const caller of callers) {
        const result = outcome(byKey.get(key(caller.request)), caller.request)
        if (result === undefined) later.push(caller)
        else caller.resolve(result)
      }
    }
    for (const [i, caller] of later.entries()) {
      try {
        caller.resolve(await alone(caller.request))
      } catch (error) {
        caller.reject(error)
        // The database went away: the callers still waiting would each wait out a connection timeout.
        if (error instanceof StoreUnavailableError) {
          for (const waiting of later.slice(i + 1)) waiting.reject(error)
          return
        }
      }
    }
  }
}
