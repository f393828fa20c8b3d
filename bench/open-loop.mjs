// Open-loop load: requests at a constant offered rate, each timed from the moment the schedule meant to
// send it. wrk is closed-loop (a connection sends its next request only after the answer), so a slow
// answer also delays the requests behind it and they are never counted: its latencies describe the
// server at saturation, not what a client sees at a given load. Here a request that waits for a free
// connection, or for this process to catch up, is late, and that wait is part of its latency.
//
//   node bench/open-loop.mjs <base URL> <request list> <requests/s> <seconds> [connections]
//
// The request list is requests.lua's (METHOD <tab> PATH [<tab> JSON body]), taken round-robin from its
// first line, so single-use inputs are sent once as long as the list is longer than rate × seconds.
// Prints one JSON line: sent, completed, errors (non-2xx, broken connections, answers still missing 5 s
// after the last send), the achieved rate and the latency percentiles in µs.
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { pathToFileURL } from 'node:url'

const HEADER_END = Buffer.from('\r\n\r\n')
const TIMEOUT_MS = 5000
/** A send later than this after its scheduled time counts as late (reported, to tell a generator that fell behind). */
const LATE_MS = 1

/** The raw HTTP/1.1 bytes of one line of a request list. */
export function requestBytes(line, host) {
  const [method, path, body] = line.split('\t')
  const head = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n`
  if (!body) return Buffer.from(`${head}\r\n`, 'latin1')
  return Buffer.from(`${head}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
}

/**
 * Takes the complete answers off the front of `buffer`: their status codes, and the bytes left over (the
 * start of the next answer). Reads only the status line and Content-Length, which every answer here has.
 */
export function takeResponses(buffer) {
  const statuses = []
  let start = 0
  for (;;) {
    const headerEnd = buffer.indexOf(HEADER_END, start)
    if (headerEnd < 0) break
    const head = buffer.toString('latin1', start, headerEnd)
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)
    const end = headerEnd + HEADER_END.length + (length ? Number(length[1]) : 0)
    if (end > buffer.length) break
    statuses.push(Number(head.slice(9, 12)))
    start = end
  }
  return { statuses, rest: start === buffer.length ? EMPTY : buffer.subarray(start) }
}
const EMPTY = Buffer.alloc(0)

/** The p-th percentile (0–100) of ascending `sorted`, nearest rank. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

/** How many requests of a schedule of `rate`/s starting at `start` (ms) are due at `now` (ms), at most `total`. */
export function dueAt(now, start, rate, total) {
  return Math.max(0, Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1))
}

async function run(base, listFile, rate, seconds, connections) {
  const url = new URL(base)
  const host = url.host
  const requests = readFileSync(listFile, 'utf8')
    .split('\n')
    .filter((line) => line.includes('\t'))
    .map((line) => requestBytes(line, host))
  const total = Math.max(1, Math.round(rate * seconds))
  const latencies = new Float64Array(total)
  let completed = 0
  let non2xx = 0
  let socketErrors = 0
  let late = 0
  let sent = 0
  let lastAnswer = 0
  const idle = []
  let start = 0

  const open = () =>
    new Promise((resolve, reject) => {
      const socket = connect({ host: url.hostname, port: Number(url.port), noDelay: true })
      const connection = { socket, intended: -1, buffer: EMPTY }
      socket.once('connect', () => resolve(connection))
      socket.on('error', (error) => (start ? undefined : reject(error)))
      socket.on('data', (chunk) => {
        const { statuses, rest } = takeResponses(connection.buffer.length ? Buffer.concat([connection.buffer, chunk]) : chunk)
        connection.buffer = rest
        // One request at a time per connection: at most one answer is waited for.
        if (statuses.length === 0 || connection.intended < 0) return
        const now = performance.now()
        latencies[completed++] = (now - connection.intended) * 1000
        lastAnswer = now
        if (statuses[0] < 200 || statuses[0] > 299) non2xx++
        connection.intended = -1
        idle.push(connection)
      })
      socket.once('close', () => {
        if (connection.intended >= 0) socketErrors++
        connection.intended = -1
        const at = idle.indexOf(connection)
        if (at >= 0) idle.splice(at, 1)
        // A closed connection is replaced, so the pool keeps its size.
        if (start && sent < total)
          open().then(
            (replacement) => idle.push(replacement),
            () => socketErrors++,
          )
      })
    })

  idle.push(...(await Promise.all(Array.from({ length: connections }, open))))
  start = performance.now()
  await new Promise((resolve) => {
    const pump = () => {
      const now = performance.now()
      const due = dueAt(now, start, rate, total)
      while (sent < due && idle.length > 0) {
        const connection = idle.pop()
        const intended = start + (sent * 1000) / rate
        if (now - intended > LATE_MS) late++
        connection.intended = intended
        connection.socket.write(requests[sent % requests.length])
        sent++
      }
      const inFlight = sent - completed - socketErrors
      if (sent < total || (inFlight > 0 && now - start < seconds * 1000 + TIMEOUT_MS)) setImmediate(pump)
      else resolve()
    }
    pump()
  })
  const unanswered = total - completed - socketErrors
  for (const connection of idle) connection.socket.destroy()
  const sorted = latencies.subarray(0, completed).sort()
  const us = (p) => Math.round(percentile(sorted, p))
  return {
    offeredRate: rate,
    sent,
    completed,
    errors: non2xx + socketErrors + unanswered,
    non2xx,
    socketErrors,
    unanswered,
    lateSends: late,
    achievedRate: completed / (Math.max(lastAnswer - start, 1) / 1000),
    p50_us: us(50),
    p90_us: us(90),
    p99_us: us(99),
    max_us: Math.round(sorted[completed - 1] ?? 0),
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [base, listFile, rate, seconds, connections] = process.argv.slice(2)
  if (!(Number(rate) > 0) || !(Number(seconds) > 0))
    throw new Error('usage: node bench/open-loop.mjs <base URL> <request list> <requests/s> <seconds> [connections]')
  const result = await run(base, listFile, Number(rate), Number(seconds), Number(connections ?? 50))
  process.stdout.write(`${JSON.stringify(result)}\n`)
  // Connections still waiting for an answer past the timeout would keep the process alive.
  process.exit(0)
}
