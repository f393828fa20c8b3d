import { execFileSync, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { defaultHashConcurrency, loadAbuseConfig } from './abuse.js'

const HAS_TASKSET = spawnSync('taskset', ['-c', '0', 'true']).status === 0
if (!HAS_TASKSET) console.warn('config/abuse.test.ts: the pinned-process case is skipped, `taskset` (util-linux) is missing or cannot pin')

describe('password hashes at once', () => {
  it('defaultHashConcurrency() runs one hash per core the process may use, at most 2', () => {
    expect(defaultHashConcurrency(1, 1)).toBe(1)
    expect(defaultHashConcurrency(1, 2)).toBe(2)
    expect(defaultHashConcurrency(1, 64)).toBe(2)
  })

  it('defaultHashConcurrency() shares the cores among the processes serving the port, never below 1', () => {
    expect(defaultHashConcurrency(2, 2)).toBe(1)
    expect(defaultHashConcurrency(2, 4)).toBe(2)
    expect(defaultHashConcurrency(4, 2)).toBe(1)
  })

  it('loadAbuseConfig() takes CINEPASS_HASH_CONCURRENCY over the default', () => {
    expect(loadAbuseConfig({ CINEPASS_HASH_CONCURRENCY: '3' }, 8).hashConcurrency).toBe(3)
    expect(loadAbuseConfig({}, 4096).hashConcurrency).toBe(1)
  })

  it.skipIf(!HAS_TASKSET)('a process pinned to one core hashes one password at a time', () => {
    const module = fileURLToPath(new URL('../../dist/config/abuse.js', import.meta.url))
    const script = `import(${JSON.stringify(module)}).then((m) => process.stdout.write(String(m.loadAbuseConfig({}).hashConcurrency)))`
    const pinned = execFileSync('taskset', ['-c', '0', process.execPath, '-e', script], { encoding: 'utf8' })
    expect(pinned).toBe('1')
  })
})

describe('in-memory limiter bound', () => {
  it('loadAbuseConfig() keeps 50,000 windows per limit unless CINEPASS_LIMITER_MEMORY_KEYS says otherwise (at least 1,000)', () => {
    expect(loadAbuseConfig({}).limiterMemoryKeys).toBe(50_000)
    expect(loadAbuseConfig({ CINEPASS_LIMITER_MEMORY_KEYS: '5000' }).limiterMemoryKeys).toBe(5000)
    expect(() => loadAbuseConfig({ CINEPASS_LIMITER_MEMORY_KEYS: '999' })).toThrow('CINEPASS_LIMITER_MEMORY_KEYS must be a whole number from 1000')
  })
})
