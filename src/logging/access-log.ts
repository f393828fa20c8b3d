import pino, { type Logger } from 'pino'

/** One request's access line: what the server answered, with the URL already redacted. */
export interface AccessEntry {
  reqId: string
  method: string
  url: string
  route: string | null
  status: number
  durationMs: number
}

type LoggerInternals = Logger & {
  [pino.symbols.timeSym]: () => string
  [pino.symbols.chindingsSym]: string
  [pino.symbols.streamSym]: pino.DestinationStream & { [pino.symbols.needsMetadataGsym]?: boolean }
  [pino.symbols.messageKeySym]: string
}

/**
 * A writer of access lines to `logger`: each the very line `logger.info(entry, 'request')` writes
 * (its level, time and bindings first, then the entry's fields and the message), built as one string.
 * The access line is written for every request, and pino's general-purpose path makes a pass of the
 * formatters over the object (the secret-field mask) and serialises each value by its type; the
 * entry's fields are known, and none is secret-named, so that pass has nothing to do here.
 * A destination that routes by level (pino.multistream) gets `logger.info` itself.
 */
export function accessLogWriter(logger: Logger): (entry: AccessEntry) => void {
  const internals = logger as LoggerInternals
  const symbols = pino.symbols
  const direct =
    logger.levels.values.info === 30 && internals[symbols.messageKeySym] === 'msg' && internals[symbols.streamSym][symbols.needsMetadataGsym] !== true
  if (!direct) return (entry) => logger.info(entry, 'request')
  return (entry) => {
    if (!logger.isLevelEnabled('info')) return
    internals[symbols.streamSym].write(
      `{"level":30${internals[symbols.timeSym]()}${internals[symbols.chindingsSym]},"reqId":${JSON.stringify(entry.reqId)},"method":${JSON.stringify(entry.method)},` +
        `"url":${JSON.stringify(entry.url)},"route":${JSON.stringify(entry.route)},"status":${entry.status},"durationMs":${entry.durationMs},"msg":"request"}\n`,
    )
  }
}
