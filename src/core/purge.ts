import type { Clock } from './clock.js'
import type { Store } from './store.js'

/** Rows deleted per `purgeExpired` call: small enough that no call holds the database for long. */
export const PURGE_BATCH = 1000

/**
 * Deletes every row that can never be used again, `batch` rows per store call, yielding to other
 * work between calls so requests interleave. Returns how many rows it deleted.
 */
export async function purgeAllExpired(store: Store, clock: Clock, batch = PURGE_BATCH): Promise<number> {
  let deleted = 0
  for (;;) {
    const count = await store.purgeExpired(clock.now(), batch)
    deleted += count
    if (count < batch) return deleted
    await new Promise((resolve) => setImmediate(resolve))
  }
}

export interface PurgeSweep {
  /** Stops the timer and waits for a sweep in progress to finish its current batch loop. */
  stop(): Promise<void>
}

/**
 * Runs `purgeAllExpired` every `intervalMs` in this process (`serve`). Sweeps never overlap; a failed
 * sweep (database down) is reported to `onError` and the next one tries again. Several instances on
 * one database may sweep at once: each DELETE only removes rows that are already dead.
 */
export function startPurgeSweep(options: {
  store: Store
  clock: Clock
  intervalMs: number
  batch?: number
  onSwept?: (deleted: number) => void
  onError?: (error: unknown) => void
}): PurgeSweep {
  let running: Promise<void> | null = null
  let stopped = false
  const sweep = (): void => {
    if (running || stopped) return
    running = purgeAllExpired(options.store, options.clock, options.batch)
      .then(
        (deleted) => options.onSwept?.(deleted),
        (error: unknown) => options.onError?.(error),
      )
      .finally(() => (running = null))
  }
  const timer = setInterval(sweep, options.intervalMs)
  // The sweep never keeps a process alive on its own.
  timer.unref()
  return {
    stop: async () => {
      stopped = true
      clearInterval(timer)
      await running
    },
  }
}
