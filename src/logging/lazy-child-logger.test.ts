import { Writable } from 'node:stream'
import pino from 'pino'
import { describe, expect, it, vi } from 'vitest'
import { LazyChildLogger } from './lazy-child-logger.js'

describe('LazyChildLogger', () => {
  it('makes no child until it logs, then writes what parent.child(bindings) would', async () => {
    const lines: string[] = []
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString())
        done()
      },
    })
    const parent = pino({ level: 'info', base: { service: 'test' }, timestamp: false }, sink)
    const child = vi.spyOn(parent, 'child')
    const lazy = new LazyChildLogger(parent, { reqId: 'r-1' })
    expect(child).not.toHaveBeenCalled()
    expect(lazy.level).toBe('info')
    lazy.debug('not written')
    lazy.warn({ detail: 1 }, 'written')
    lazy.info('twice')
    expect(child).toHaveBeenCalledTimes(1)
    await new Promise((resolve) => setImmediate(resolve))
    expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual([
      { level: 40, service: 'test', reqId: 'r-1', detail: 1, msg: 'written' },
      { level: 30, service: 'test', reqId: 'r-1', msg: 'twice' },
    ])
  })
})
