import type { FastifyBaseLogger } from 'fastify'
import type { Bindings, ChildLoggerOptions, LevelWithSilentOrString } from 'pino'

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

function log(logger: FastifyBaseLogger, level: Level, args: unknown[]): void {
  Reflect.apply(logger[level], logger, args)
}

/**
 * A request's logger that makes its parent's child (which serialises the request id into every line's
 * prefix) only when the request first logs. Most requests never do: their access line is written by
 * the parent with the request id as a field, and pino's `child()` serialises its bindings each time.
 * Behaves as `parent.child(bindings, options)` in every other respect.
 */
export class LazyChildLogger implements FastifyBaseLogger {
  #child: FastifyBaseLogger | undefined
  readonly #parent: FastifyBaseLogger
  readonly #bindings: Bindings
  readonly #options: ChildLoggerOptions | undefined

  constructor(parent: FastifyBaseLogger, bindings: Bindings, options?: ChildLoggerOptions) {
    this.#parent = parent
    this.#bindings = bindings
    this.#options = options
  }

  get #logger(): FastifyBaseLogger {
    return (this.#child ??= this.#parent.child(this.#bindings, this.#options))
  }

  get level(): LevelWithSilentOrString {
    return this.#child?.level ?? this.#options?.level ?? this.#parent.level
  }

  set level(level: LevelWithSilentOrString) {
    this.#logger.level = level
  }

  // Methods on the prototype, not arrow fields: a logger is made for every request.
  fatal(...args: unknown[]): void {
    log(this.#logger, 'fatal', args)
  }
  error(...args: unknown[]): void {
    log(this.#logger, 'error', args)
  }
  warn(...args: unknown[]): void {
    log(this.#logger, 'warn', args)
  }
  info(...args: unknown[]): void {
    log(this.#logger, 'info', args)
  }
  debug(...args: unknown[]): void {
    log(this.#logger, 'debug', args)
  }
  trace(...args: unknown[]): void {
    log(this.#logger, 'trace', args)
  }
  silent(...args: unknown[]): void {
    log(this.#logger, 'silent', args)
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#logger.child(bindings, options)
  }
}
