/**
 * Counts the request handlers running, whether or not their client is still connected, and tells when
 * none is. A server that closes its store once its connections are gone would cut short a handler
 * whose client has left: its writes half done, a login's reserved throttle points never handed back.
 */
export class HandlersInFlight {
  #running = 0
  #onIdle: (() => void)[] = []

  /** Runs `handler`, counted until it returns or, when it returns a promise or thenable, until that settles. */
  run<T>(handler: () => T): T {
    this.#running++
    let result: T
    try {
      result = handler()
    } catch (error) {
      this.#done()
      throw error
    }
    if (typeof (result as { then?: unknown } | null | undefined)?.then === 'function') {
      // A promise, or a thenable such as the Fastify reply a handler may return.
      Promise.resolve(result).then(
        () => this.#done(),
        () => this.#done(),
      )
    } else {
      this.#done()
    }
    return result
  }

  /** Resolves once no handler is running (at once when none is). */
  idle(): Promise<void> {
    if (this.#running === 0) return Promise.resolve()
    return new Promise((resolve) => this.#onIdle.push(resolve))
  }

  #done(): void {
    this.#running--
    if (this.#running > 0) return
    for (const resolve of this.#onIdle.splice(0)) resolve()
  }
}
