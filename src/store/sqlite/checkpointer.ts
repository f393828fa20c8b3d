import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

/** A WAL checkpointer on a thread of its own. */
export interface Checkpointer {
  /** Stops the thread after its current checkpoint and closes its connection. */
  stop(): Promise<void>
}

/**
 * What the checkpointer needs of the connection that writes: to hold its commits back for a moment.
 * `pause()` returns once no write transaction is open and none will begin until `resume()`; writes
 * asked for meanwhile wait (the event loop does not).
 */
export interface WritePauser {
  pause(): void
  resume(): void
}

// Runs in the worker: its own connection to the same file, a PASSIVE checkpoint every `intervalMs`
// (it never waits for or blocks the serving connection). Under a steady stream of writes a PASSIVE
// pass never catches up with the end of the WAL, and SQLite starts the WAL over only after a pass that
// did: so when the WAL has grown past `pausePages`, the thread asks the serving process to hold its
// commits, makes a pass that copies everything, and lets it go on; its next commit then starts the WAL
// over. The pause lasts one short pass (the frames written since the last), where the RESTART
// checkpoint this replaces made the serving connection sleep in SQLite's busy handler, the event loop
// with it, several times a second at full load. The pause lasts as long as the paused pass, so the
// thread first writes out what earlier passes copied and chases the writer. A RESTART remains for a
// WAL past `restartPages`: other processes (cluster workers) writing to the same file, which this
// process cannot hold back.
const WORKER_SOURCE = `
const MAX_CHASE_PASSES = 16
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const { closeSync, fdatasyncSync, openSync, readSync } = require('node:fs')
const db = new Database(workerData.path)
db.pragma('busy_timeout = 100')
let waitingForPause = false
// The WAL's checkpoint sequence number (header bytes 12-15) after the last paused pass: SQLite adds one
// each time a writer starts the WAL over. Null when the WAL has started over since (or never paused).
let sequenceAfterPause = null
const walHeader = Buffer.alloc(16)
const walSequence = () => {
  try {
    const wal = openSync(workerData.path + '-wal', 'r')
    try {
      readSync(wal, walHeader, 0, 16, 0)
    } finally {
      closeSync(wal)
    }
    return walHeader.readUInt32BE(12)
  } catch {
    return -1
  }
}
const checkpoint = (mode) => {
  try {
    return db.pragma('wal_checkpoint(' + mode + ')')[0]
  } catch {
    // A busy or failing checkpoint is retried at the next tick; the serving connection is unaffected.
    return undefined
  }
}
const syncDatabaseFile = () => {
  try {
    const file = openSync(workerData.path, 'r+')
    try {
      fdatasyncSync(file)
    } finally {
      closeSync(file)
    }
  } catch {
    // Only an optimisation: the paused pass syncs the file anyway.
  }
}
const framesBehind = (result) => result.log - result.checkpointed
// Passes back to back from "behind" frames behind the writer, while each gains on it and until it is
// within chaseFrames: how far behind the last one ended (Infinity when none could run). A disk slower
// than the writer stops the chase at once.
const chase = (behind) => {
  for (let pass = 0; behind > workerData.chaseFrames && pass < MAX_CHASE_PASSES; pass++) {
    const next = checkpoint('PASSIVE')
    if (!next || framesBehind(next) >= behind) break
    behind = framesBehind(next)
  }
  return behind
}
const timer = setInterval(() => {
  if (waitingForPause) return
  // A pass copies the frames there were when it began; the writer appends more meanwhile.
  const result = checkpoint('PASSIVE')
  if (!result) return
  if (sequenceAfterPause !== null && walSequence() !== sequenceAfterPause) sequenceAfterPause = null
  if (result.log > workerData.restartPages) {
    checkpoint('RESTART')
    return
  }
  // One pause per start of the WAL: after a paused pass this process's next commit starts it over,
  // and if it does not (other processes write too, which a pause here cannot hold), RESTART's turn.
  if (result.log <= workerData.pausePages || sequenceAfterPause !== null) return
  // The paused pass copies, and syncs to disk, every frame not yet copied: its length is the writer's
  // wait. So the thread first chases the writer, with passes back to back that each copy only what was
  // written during the one before.
  let behind = chase(framesBehind(result))
  if (behind <= workerData.chaseFrames) {
    // A pass that ends behind the writer leaves the pages it copied unsynced, and the paused pass, which
    // ends level with it, would sync them all while the writer waits: written out now, then the few
    // frames written meanwhile chased down.
    syncDatabaseFile()
    behind = chase(Infinity)
  }
  // Until a pass has nearly caught up, the next tick's pass catches up, without a pause.
  if (behind <= workerData.catchUpFrames) {
    waitingForPause = true
    parentPort.postMessage('pause')
  }
}, workerData.intervalMs)
parentPort.on('message', (message) => {
  if (message === 'paused') {
    checkpoint('PASSIVE')
    sequenceAfterPause = walSequence()
    parentPort.postMessage('resume')
    waitingForPause = false
  } else if (message === 'stop') {
    clearInterval(timer)
    db.close()
    parentPort.close()
  }
})
`

export interface CheckpointerOptions {
  /** How often a PASSIVE pass runs (ms). */
  intervalMs?: number
  /** A WAL longer than this (frames) is to start over: the writer is paused once a pass has caught up. */
  pausePages?: number
  /** A WAL longer than this (frames) gets a RESTART checkpoint, which waits for every writer. */
  restartPages?: number
  /** The pause is asked for only when a pass ends at most this many frames behind the writer. */
  catchUpFrames?: number
  /** How close back-to-back passes try to get to the writer before the pause (frames). */
  chaseFrames?: number
}

// Longest the serving connection holds its commits for the checkpointer: past it (a thread that hangs
// or died mid-pass), writes go on without the pass.
const MAX_PAUSE_MS = 250

/**
 * Starts checkpointing the WAL of the SQLite file at `path` on a worker thread. The serving connection
 * then runs with `wal_autocheckpoint = 0`: copying WAL pages into the database file and syncing it no
 * longer happens inside a commit on the event loop, which was most of a write's cost and all of its
 * latency spikes (docs/performance.md). Durability is unchanged: commits are in the WAL either way.
 * `writer` is paused now and then, for at most MAX_PAUSE_MS, so that the WAL can start over.
 */
export function startCheckpointer(path: string, writer: WritePauser, options: CheckpointerOptions = {}): Checkpointer {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      path,
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
      intervalMs: options.intervalMs ?? 100,
      pausePages: options.pausePages ?? 16_384,
      restartPages: options.restartPages ?? 65_536,
      catchUpFrames: options.catchUpFrames ?? 1024,
      chaseFrames: options.chaseFrames ?? 128,
    },
  })
  // The thread must not keep a process alive that has nothing else to do.
  worker.unref()
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
  let pauseLimit: NodeJS.Timeout | undefined
  const resume = (): void => {
    if (!pauseLimit) return
    clearTimeout(pauseLimit)
    pauseLimit = undefined
    writer.resume()
  }
  worker.on('message', (message) => {
    if (message === 'pause') {
      writer.pause()
      pauseLimit = setTimeout(resume, MAX_PAUSE_MS)
      worker.postMessage('paused')
    } else if (message === 'resume') {
      resume()
    }
  })
  // A thread that fails leaves checkpointing to the next open or close; the service goes on.
  worker.on('error', resume)
  worker.on('exit', resume)
  return {
    stop: async () => {
      // Referenced again, so the process waits for the thread to close its connection.
      worker.ref()
      worker.postMessage('stop')
      await exited
      resume()
    },
  }
}
