import { Writable } from 'node:stream'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { accessLogWriter, type AccessEntry } from './access-log.js'
import { createLogger } from './logger.js'

function collecting(): { sink: Writable; lines: string[] } {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split(/(?<=\n)/))
      done()
    },
  })
  return { sink, lines }
}

const entry: AccessEntry = {
  reqId: 'a1b2c3d4-0000-4000-8000-000000000000',
  method: 'GET',
  url: '/3/authentication/token/new?api_key=[REDACTED]&q="quoted"\\',
  route: '/3/authentication/token/new',
  status: 200,
  durationMs: 0.42,
}

describe('accessLogWriter()', () => {
  it('writes the very line logger.info(entry, "request") writes, on our logger and on a default pino one', async () => {
    for (const make of [(sink: Writable) => createLogger('info', sink), (sink: Writable) => pino({ level: 'info', timestamp: () => ',"time":1' }, sink)]) {
      const direct = collecting()
      const viaPino = collecting()
      accessLogWriter(make(direct.sink))(entry)
      make(viaPino.sink).info(entry, 'request')
      await new Promise((resolve) => setImmediate(resolve))
      const withoutTime = (line: string | undefined) => line?.replace(/,"time":("[^"]*"|\d+)/, '')
      expect(withoutTime(direct.lines[0])).toBe(withoutTime(viaPino.lines[0]))
      expect(JSON.parse(direct.lines[0]!)).toMatchObject({ level: 30, ...entry, route: entry.route, msg: 'request' })
    }
  })

  it('writes nothing when the logger is above info', async () => {
    const { sink, lines } = collecting()
    accessLogWriter(pino({ level: 'warn' }, sink))(entry)
    await new Promise((resolve) => setImmediate(resolve))
    expect(lines).toEqual([])
  })

  it('leaves a destination that routes by level to pino (multistream)', async () => {
    const info = collecting()
    const errors = collecting()
    const logger = pino({ level: 'info' }, pino.multistream([{ stream: info.sink }, { level: 'error', stream: errors.sink }]))
    accessLogWriter(logger)(entry)
    await new Promise((resolve) => setImmediate(resolve))
    expect(info.lines).toHaveLength(1)
    expect(errors.lines).toEqual([])
  })
})
