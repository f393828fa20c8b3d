import { execFileSync } from 'node:child_process'
import { closeSync, openSync, writeSync } from 'node:fs'
import { temporaryDirectory } from './fixtures.js'

/** A small tmpfs of its own, so a test can fill a disk without touching anyone else's. */
export interface SmallDisk {
  path: string
  /** Why it could not be mounted (not root, no tmpfs), or null when it is mounted. */
  problem: string | null
  /** Unmounts (when mounted) and removes the mount point. */
  remove(): void
}

export function mountSmallDisk(sizeMb: number, prefix: string): SmallDisk {
  const mountPoint = temporaryDirectory(prefix)
  let problem: string | null = null
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0700`, 'tmpfs', mountPoint.path], { stdio: 'pipe' })
  } catch (error) {
    problem = `cannot mount a tmpfs (${(error as Error).message.split('\n')[0]}); run as root to test a full disk`
  }
  return {
    path: mountPoint.path,
    problem,
    remove: () => {
      if (!problem) execFileSync('umount', [mountPoint.path])
      mountPoint.remove()
    },
  }
}

/** Writes a file until the filesystem refuses with ENOSPC; returns how many bytes it took. */
export function fillDisk(path: string): number {
  const fd = openSync(path, 'w')
  let written = 0
  try {
    for (const block of [Buffer.alloc(64 * 1024, 1), Buffer.alloc(4096, 1), Buffer.alloc(512, 1)]) {
      for (;;) {
        try {
          written += writeSync(fd, block)
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break
          throw error
        }
      }
    }
  } finally {
    closeSync(fd)
  }
  return written
}
