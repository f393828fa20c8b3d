/**
 * Password hashes one process runs at once by default: one per core it may use, at most this many.
 * (cli/cinepass.cts sizes the threadpool before any ES module loads, so it spells this value out; its
 * test checks the two agree.)
 */
export const MAX_DEFAULT_HASH_CONCURRENCY = 2

/** Calls allowed to wait for a hash slot by default, before a fast 503. */
export const DEFAULT_HASH_QUEUE = 64
