import { describe, expect, it } from 'vitest'
import { HandlersInFlight } from './in-flight.js'

describe('HandlersInFlight', () => {
  it('idle() waits for every running handler, a failing one included', async () => {
    const handlers = new HandlersInFlight()
    const finish: (() => void)[] = []
    const fail: ((error: Error) => void)[] = []
    const first = handlers.run(() => new Promise<void>((resolve) => finish.push(resolve)))
    const second = handlers.run(() => new Promise<void>((_, reject) => fail.push(reject)))
    let idle = false
    const waiting = handlers.idle().then(() => (idle = true))
    finish[0]!()
    await first
    await Promise.resolve()
    expect(idle).toBe(false)
    fail[0]!(new Error('refused'))
    await expect(second).rejects.toThrow('refused')
    await waiting
    expect(idle).toBe(true)
  })

  it('idle() waits for a thenable that is not a promise', async () => {
    const handlers = new HandlersInFlight()
    let settle: (() => void) | undefined
    const thenable = { then: (resolve: () => void) => void (settle = resolve) }
    handlers.run(() => thenable)
    let idle = false
    const waiting = handlers.idle().then(() => (idle = true))
    await new Promise((resolve) => setImmediate(resolve))
    expect(idle).toBe(false)
    settle!()
    await waiting
    expect(idle).toBe(true)
  })

  it('idle() resolves at once when nothing runs, and a handler that returns or throws at once is not left counted', async () => {
    const handlers = new HandlersInFlight()
    expect(handlers.run(() => 42)).toBe(42)
    expect(() =>
      handlers.run(() => {
        throw new Error('bad')
      }),
    ).toThrow('bad')
    await handlers.idle()
  })
})
