import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'

// The database holds password hashes and JWT signing secrets: only its owner may read it, whatever
// the umask. SQLite gives its -wal and -shm files the database file's mode.
const PRIVATE_FOLDER = 0o700
const PRIVATE_FILE = 0o600
const COMPANIONS = ['', '-wal', '-shm', '-journal']

/**
 * Prepares `path` for SQLite: creates the folders missing above it (0700, one level at a time: a
 * recursive mkdir under /proc never returns) and the empty database file (0600) when there is none.
 * Throws the operating system's error (ENOENT, EACCES, ENOTDIR, EISDIR, …) naming the path that failed.
 */
export function createPrivateDatabaseFile(path: string): void {
  const missing: string[] = []
  let folder = dirname(resolve(path))
  while (!existsSync(folder)) {
    missing.unshift(folder)
    const parent = dirname(folder)
    if (parent === folder) break
    folder = parent
  }
  for (const created of missing) {
    mkdirSync(created, { mode: PRIVATE_FOLDER })
    chmodSync(created, PRIVATE_FOLDER)
  }
  if (existsSync(path) && statSync(path).isDirectory()) throw osError('EISDIR', 'illegal operation on a directory', path)
  // 'a': create when absent, never truncate what is there. An empty file is a valid new database.
  closeSync(openSync(path, 'a', PRIVATE_FILE))
  makePrivate(path)
}

/** Sets the database file at `path` and its -wal, -shm and -journal files (those that exist) to 0600. */
export function makePrivate(path: string): void {
  for (const suffix of COMPANIONS) {
    try {
      chmodSync(path + suffix, PRIVATE_FILE)
    } catch (error) {
      // Gone, or someone else's file (it then keeps the mode its owner gave it).
      if (!['ENOENT', 'EPERM'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error
    }
  }
}

function osError(code: string, description: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${description}, open '${path}'`), { code, path, syscall: 'open' })
}
