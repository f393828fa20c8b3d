import pino, { type Logger } from 'pino'
import { maskSecretFields } from '../http/redact.js'
import { LineBlocks } from './line-blocks.js'

// Log lines are written in blocks of about this size (under sonic-boom's 16 KiB write) rather than
// one write each: at thousands of requests a second, a write per line costs more than the request.
// A quiet server's lines still appear within LOG_FLUSH_MS, and everything is flushed on exit.
const LOG_BUFFER_BYTES = 16_000
const LOG_FLUSH_MS = 200

/**
 * The process logger: JSON lines on stdout. Lines are written asynchronously (sonic-boom), so a busy
 * server gathers many request lines into one write instead of one blocking write each; what is left
 * is written when the process exits. `level` must be one of pino's levels (the settings check it).
 */
export function createLogger(
  level: string,
  destination: pino.DestinationStream = new LineBlocks(pino.destination({ dest: 1, sync: false }), { blockBytes: LOG_BUFFER_BYTES, flushMs: LOG_FLUSH_MS }),
): Logger {
  return pino(
    {
      level,
      base: { service: 'cinepass' },
      timestamp: isoTimeOfThisMillisecond,
      // Belt and braces: nothing should log a secret-named field, and if something does it is masked.
      // (A pass over the line's keys; pino's path-based redaction cost a tenth of a request's time.)
      formatters: { log: maskSecretFields },
    },
    destination,
  )
}

// pino's isoTime, with the text kept for the millisecond it names: a busy server writes several lines
// a millisecond, and formatting the date was a tenth of a line's cost.
let lastTime = { ms: Number.NaN, text: '' }
function isoTimeOfThisMillisecond(): string {
  const ms = Date.now()
  if (ms !== lastTime.ms) lastTime = { ms, text: `,"time":"${new Date(ms).toISOString()}"` }
  return lastTime.text
}
