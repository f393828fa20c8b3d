import { randomBytes } from 'node:crypto'
import { mkdtempSync, openSync, readSync, closeSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { startCheckpointer, type WritePauser } from './checkpointer.js'

// The WAL header's checkpoint sequence number (bytes 12–15, big-endian): a writer that starts the WAL
// over from its beginning writes its connection's count plus one, so with two writing connections it
// is not monotonic: a restart is a change of it.
function walSequence(walPath: string): number {
  const header = Buffer.alloc(16)
  const fd = openSync(walPath, 'r')
  try {
    readSync(fd, header, 0, 16, 0)
  } finally {
    closeSync(fd)
  }
  return header.readUInt32BE(12)
}

/** A writer for the checkpointer to pause, recording how long each pause lasted. */
function recordingWriter(): { writer: WritePauser; isPaused: () => boolean; pauses: number[] } {
  let pausedAt: number | null = null
  const pauses: number[] = []
  const writer: WritePauser = {
    pause: () => {
      pausedAt = Date.now()
    },
    resume: () => {
      pauses.push(Date.now() - pausedAt!)
      pausedAt = null
    },
  }
  return { writer, isPaused: () => pausedAt !== null, pauses }
}

/** A connection as the store's writer has it: WAL, automatic checkpoints off. */
function openWriter(path: string): Database.Database {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma('wal_autocheckpoint = 0')
  db.pragma('busy_timeout = 1000')
  return db
}

/** 50 rows with random keys, as the token tables get them: every row dirties a page of its own. */
function randomRowBatch(db: Database.Database): () => void {
  const insert = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)')
  return db.transaction(() => {
    for (let i = 0; i < 50; i++) insert.run(randomBytes(16), randomBytes(100))
  })
}

describe('WAL checkpointer', () => {
  const dirs: string[] = []
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  })
  /** A new database file with the table `t`, and the connection that made it. */
  const newDatabase = (): { path: string; db: Database.Database } => {
    const dir = mkdtempSync(join(tmpdir(), 'cinepass-checkpointer-'))
    dirs.push(dir)
    const path = join(dir, 'db.sqlite')
    const db = openWriter(path)
    db.exec('CREATE TABLE t (k BLOB PRIMARY KEY, v BLOB NOT NULL)')
    return { path, db }
  }

  it('startCheckpointer() makes the WAL start over under a steady stream of writes, holding them back only briefly', async () => {
    const { path, db } = newDatabase()
    const writeBatch = randomRowBatch(db)

    const { writer, isPaused, pauses } = recordingWriter()
    // A RESTART threshold never reached: only the pauses may start the WAL over.
    const checkpointer = startCheckpointer(path, writer, { intervalMs: 20, pausePages: 256, restartPages: Number.MAX_SAFE_INTEGER })
    try {
      const restartsBefore = walSequence(`${path}-wal`)
      let batches = 0
      let heldBack = 0
      const until = Date.now() + 3000
      while (Date.now() < until) {
        if (!isPaused()) {
          writeBatch()
          batches++
        } else {
          heldBack++
        }
        // The writer yields as the store's event loop does, so the checkpointer's messages arrive.
        await new Promise((resolve) => setImmediate(resolve))
      }
      // One writing connection: its count only grows.
      const restarts = walSequence(`${path}-wal`) - restartsBefore
      console.log(
        `checkpointer: ${batches} batches of 50 rows, ${pauses.length} pauses (longest ${Math.max(0, ...pauses)} ms), ${restarts} WAL restarts, WAL file ${(statSync(`${path}-wal`).size / 1048576).toFixed(1)} MB`,
      )
      expect(pauses.length).toBeGreaterThanOrEqual(2)
      expect(restarts).toBeGreaterThanOrEqual(2)
      expect(heldBack).toBeGreaterThan(0)
      // Every pause ended by the checkpointer's own resume, well within the writer's limit (250 ms).
      expect(Math.max(...pauses)).toBeLessThan(250)
    } finally {
      await checkpointer.stop()
      db.close()
    }
  })

  it('startCheckpointer() pauses once per start of the WAL when another process writes too, and RESTART bounds the WAL', async () => {
    const { path, db: ours } = newDatabase()
    // Another process's connection: the checkpointer cannot hold its writes back.
    const theirs = openWriter(path)
    const [ourBatch, theirBatch] = [randomRowBatch(ours), randomRowBatch(theirs)]
    const { writer, isPaused, pauses } = recordingWriter()
    const checkpointer = startCheckpointer(path, writer, { intervalMs: 20, pausePages: 256, restartPages: 4096 })
    try {
      let sequence = walSequence(`${path}-wal`)
      let restarts = 0
      let maxWal = 0
      const until = Date.now() + 3000
      while (Date.now() < until) {
        if (!isPaused()) ourBatch()
        theirBatch()
        maxWal = Math.max(maxWal, statSync(`${path}-wal`).size)
        const now = walSequence(`${path}-wal`)
        if (now !== sequence) restarts++
        sequence = now
        await new Promise((resolve) => setImmediate(resolve))
      }
      console.log(`checkpointer with another writer: ${pauses.length} pauses, ${restarts} WAL restarts, largest WAL file ${(maxWal / 1048576).toFixed(1)} MB`)
      expect(restarts).toBeGreaterThanOrEqual(1)
      // About one pause per start of the WAL (the other writer may start it over too, and its header is
      // read while being written): not one every tick, as when pauses went on while the WAL did not restart.
      expect(pauses.length).toBeLessThanOrEqual(2 * restarts + 2)
    } finally {
      await checkpointer.stop()
      ours.close()
      theirs.close()
    }
  })
})
