import { stat } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../config/config.js'
import { startServer, type RunningServer } from '../server.js'
import { createTestApplication, createTestUser, temporaryDirectory } from '../test-support/fixtures.js'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function server(closeGraceMs: number): Promise<{ running: RunningServer; port: number; apiKey: string }> {
  const dir = temporaryDirectory()
  cleanups.push(() => dir.remove())
  const config = loadConfig({ CINEPASS_DATABASE: join(dir.path, 'cinepass.db'), CINEPASS_PORT: '0', NODE_ENV: 'production', CINEPASS_RATE_LIMIT: '0' })
  const running = await startServer(config, { closeGraceMs })
  cleanups.push(() => running.close())
  const app = await createTestApplication(running.core)
  return { running, port: Number(new URL(running.url).port), apiKey: app.apiKey }
}

/** One keep-alive HTTP/1.1 connection that reads whole responses (they all carry Content-Length). */
function keepAlive(port: number): { socket: Socket; send(path: string, init?: { method?: string; body?: string }): Promise<{ status: number; head: string }> } {
  const socket = connect(port, '127.0.0.1')
  let buffer = ''
  let waiting: (() => void) | undefined
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => {
    buffer += chunk
    waiting?.()
  })
  const response = (): Promise<{ status: number; head: string }> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const end = buffer.indexOf('\r\n\r\n')
        if (end < 0) return
        const head = buffer.slice(0, end)
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0)
        if (buffer.length < end + 4 + length) return
        buffer = buffer.slice(end + 4 + length)
        waiting = undefined
        resolve({ status: Number(head.split(' ')[1]), head: head.toLowerCase() })
      }
      waiting = check
      socket.once('close', () => reject(new Error('connection closed without a response')))
      check()
    })
  return {
    socket,
    send: (path, init = {}) => {
      const body = init.body ?? ''
      const type = body ? 'content-type: application/json\r\n' : ''
      socket.write(`${init.method ?? 'GET'} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n${type}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
      return response()
    },
  }
}

describe('closing the HTTP server', () => {
  it('answers a request that reaches an idle keep-alive connection just after close() begins, with Connection: close', async () => {
    const { running, port, apiKey } = await server(200)
    const client = keepAlive(port)
    expect((await client.send(`/3/authentication/token/new?api_key=${apiKey}`)).status).toBe(200)
    const closed = running.close()
    const answer = await client.send(`/3/authentication/token/new?api_key=${apiKey}`)
    expect(answer.status).toBe(200)
    expect(answer.head).toContain('connection: close')
    await closed
  })

  it('answers a request that arrived while the event loop was busy past the end of the grace, instead of cutting its connection as idle', async () => {
    const { running, port, apiKey } = await server(200)
    const client = keepAlive(port)
    expect((await client.send(`/3/authentication/token/new?api_key=${apiKey}`)).status).toBe(200)
    const closed = running.close()
    await new Promise((resolve) => setTimeout(resolve, 50))
    // Sent within the grace, from an I/O callback that then keeps the loop busy until after the grace's
    // timer is due: the next turn runs that timer before the poll phase that would read the request
    // (as in a busy or starved process).
    const response = await new Promise<Awaited<ReturnType<typeof client.send>>>((resolve) =>
      stat('.', () => {
        const sent = client.send(`/3/authentication/token/new?api_key=${apiKey}`)
        const busyUntil = Date.now() + 300
        while (Date.now() < busyUntil) {
          // The stall.
        }
        resolve(sent)
      }),
    )
    expect(response.status).toBe(200)
    expect(response.head).toContain('connection: close')
    await closed
  })

  it('ends a keep-alive connection after the request in flight at close(), so close() does not wait for the keep-alive timeout', async () => {
    const { running, port, apiKey } = await server(200)
    const user = await createTestUser(running.core)
    const client = keepAlive(port)
    const token = `/3/authentication/token/new?api_key=${apiKey}`
    expect((await client.send(token)).status).toBe(200)
    // A live request token, so that validate_with_login goes as far as hashing the password: it is still
    // running when close() begins.
    const requestToken = ((await (await fetch(`http://127.0.0.1:${port}${token}`)).json()) as { request_token: string }).request_token
    const inFlight = client.send(`/3/authentication/token/validate_with_login?api_key=${apiKey}`, {
      method: 'POST',
      body: JSON.stringify({ username: user.username, password: 'wrong password', request_token: requestToken }),
    })
    // Give the server the moment it needs to read the request and start hashing (about 10 ms of work).
    await new Promise((resolve) => setTimeout(resolve, 3))
    const closed = running.close()
    const answer = await inFlight
    expect(answer.status).toBe(401)
    expect(answer.head).toContain('connection: close')
    await closed
    expect(client.socket.destroyed || client.socket.readableEnded).toBe(true)
  })
})
