import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

/** A WAL checkpointer on a thread of its own. */
export interface Checkpointer {
  /** Stops the thread after its current checkpoint and closes its connection. */
  stop(): Promise<void>
}

// Runs in the worker: its own connection to the same file, checkpointing every `intervalMs`. PASSIVE
// never waits for or blocks the serving connection; only when the WAL has outgrown `restartPages`
// (writes outpacing passive checkpoints) does it ask for a RESTART, which waits at most its busy timeout.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.path)
db.pragma('busy_timeout = 100')
const checkpoint = () => {
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)')
    if (result && result.log > workerData.restartPages) db.pragma('wal_checkpoint(RESTART)')
  } catch {
    // A busy or failing checkpoint is retried at the next tick; the serving connection is unaffected.
  }
}
const timer = setInterval(checkpoint, workerData.intervalMs)
parentPort.once('message', () => {
  clearInterval(timer)
  db.close()
  parentPort.close()
})
`

/**
 * Starts checkpointing the WAL of the SQLite file at `path` on a worker thread. The serving connection
 * then runs with `wal_autocheckpoint = 0`: copying WAL pages into the database file and syncing it no
 * longer happens inside a commit on the event loop, which was most of a write's cost and all of its
 * latency spikes (docs/performance.md). Durability is unchanged: commits are in the WAL either way.
 */
export function startCheckpointer(path: string, options: { intervalMs?: number; restartPages?: number } = {}): Checkpointer {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      path,
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
      intervalMs: options.intervalMs ?? 100,
      restartPages: options.restartPages ?? 16_384,
    },
  })
  // The thread must not keep a process alive that has nothing else to do.
  worker.unref()
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
  // A thread that fails leaves checkpointing to the next open or close; the service goes on.
  worker.on('error', () => {})
  return {
    stop: async () => {
      // Referenced again, so the process waits for the thread to close its connection.
      worker.ref()
      worker.postMessage('stop')
      await exited
    },
  }
}
