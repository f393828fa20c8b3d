import { readdirSync } from 'node:fs'
import { setPriority } from 'node:os'

/**
 * Gives the libuv threadpool's threads (where password hashes run) the nice value `nice`, so that a
 * burst of logins cannot take the CPU from the event loop that answers every other request: hashing
 * then runs on what the event loop leaves. Every thread started after the entry point's count gets it,
 * so SQLite's WAL checkpointer thread (started with the store) runs as background work too. Only possible when the process started through the
 * `cinepass` entry, which notes the threads that existed before the pool; returns how many threads
 * it changed (0 when it could not tell which threads are the pool's, or `nice` is 0).
 */
export function lowerThreadpoolPriority(nice: number): number {
  const before = (globalThis as { cinepassThreadsBeforePool?: string[] }).cinepassThreadsBeforePool
  if (!before || nice === 0) return 0
  let changed = 0
  for (const tid of readdirSync('/proc/self/task')) {
    if (before.includes(tid)) continue
    try {
      // On Linux, setpriority() on a thread id changes that thread only.
      setPriority(Number(tid), nice)
      changed++
    } catch {
      // A thread that ended meanwhile, or a system that refuses: leave it.
    }
  }
  return changed
}
