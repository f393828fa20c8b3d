#!/usr/bin/env -S node --max-semi-space-size=8 --heap-growing-percent=30
// The flags bound V8's heap (docs/performance.md): the first caps the young generation at 2 × 8 MiB
// (under load it would otherwise grow to 2 × 16 MiB, 16–24 MB more resident memory for no measurable gain
// in throughput); the second collects the old generation once it has grown by 30 % since the last full
// collection, where V8 otherwise lets it grow up to fourfold (measured: 15 MB live, 53 MB before a
// collection). V8 reads them only at start, so they are on the command line; `npm start` passes them
// too, cluster workers inherit them.
// The `cinepass` command's entry point. It is CommonJS on purpose: libuv sizes its threadpool from
// UV_THREADPOOL_SIZE when the pool is first used, and loading an ES module already uses it, so
// the variable must be set by a script that runs before any ES module is loaded. The pool is sized
// above the password-hashing cap (CINEPASS_HASH_CONCURRENCY, by default at most
// MAX_DEFAULT_HASH_CONCURRENCY) so that file and DNS work (the PostgreSQL driver's lookups, SQLite's
// files) never wait behind hashes. An operator's own UV_THREADPOOL_SIZE is kept.
// core/hash-limits.ts's MAX_DEFAULT_HASH_CONCURRENCY (an ES module, so not loadable yet); threadpool.test.ts
// checks that they agree.
const MAX_DEFAULT_HASH_CONCURRENCY = 2
// Threads besides the hashing ones, for file and DNS work.
const THREADPOOL_HEADROOM = 4

const hashing = Number.parseInt(process.env.CINEPASS_HASH_CONCURRENCY ?? '', 10)
const cap = Number.isInteger(hashing) && hashing > 0 ? hashing : MAX_DEFAULT_HASH_CONCURRENCY
process.env.UV_THREADPOOL_SIZE ||= String(Math.max(THREADPOOL_HEADROOM, cap + THREADPOOL_HEADROOM))
import fs = require('node:fs')
// The threads that exist before the threadpool starts (the main thread, V8's): every thread started
// later is the pool's, where password hashes run. `serve` lowers their scheduling priority
// (CINEPASS_HASH_NICE) so that hashing takes the CPU the event loop leaves, not the other way round.
try {
  ;(globalThis as { cinepassThreadsBeforePool?: string[] }).cinepassThreadsBeforePool = fs.readdirSync('/proc/self/task')
} catch {
  // No /proc (not Linux): priorities stay as they are.
}
void import('./main.js')
