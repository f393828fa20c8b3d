import { describe, expect, it } from 'vitest'
import { dueAt, percentile, requestBytes, takeResponses } from './open-loop.mjs'

const answer = (status: number, body: string): string =>
  `HTTP/1.1 ${status} OK\r\nContent-Type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`

describe('bench/open-loop.mjs', () => {
  it('builds a request with a body and its length, and one without', () => {
    expect(requestBytes('POST\t/3/authentication/session/new?api_key=k\t{"request_token":"é"}', '127.0.0.1:80').toString()).toBe(
      'POST /3/authentication/session/new?api_key=k HTTP/1.1\r\nHost: 127.0.0.1:80\r\nContent-Type: application/json\r\nContent-Length: 22\r\n\r\n{"request_token":"é"}',
    )
    expect(requestBytes('GET\t/3/authentication?api_key=k', 'h').toString()).toBe('GET /3/authentication?api_key=k HTTP/1.1\r\nHost: h\r\n\r\n')
  })

  it('takes whole answers only, whatever the chunks, and keeps the rest for the next read', () => {
    const bytes = Buffer.from(answer(200, '{"success":true}') + answer(404, '{}'))
    // Cut everywhere: inside the headers, inside the body, between the two answers.
    for (let cut = 1; cut < bytes.length; cut++) {
      const first = takeResponses(bytes.subarray(0, cut))
      const second = takeResponses(Buffer.concat([first.rest, bytes.subarray(cut)]))
      expect([...first.statuses, ...second.statuses], `cut at ${cut}`).toEqual([200, 404])
      expect(second.rest.length).toBe(0)
    }
  })

  it('schedules at a constant rate from the start, up to the total', () => {
    expect(dueAt(1000, 1000, 2000, 100)).toBe(1)
    expect(dueAt(1000.4, 1000, 2000, 100)).toBe(1)
    expect(dueAt(1000.5, 1000, 2000, 100)).toBe(2)
    expect(dueAt(1010, 1000, 2000, 100)).toBe(21)
    expect(dueAt(5000, 1000, 2000, 100)).toBe(100)
  })

  it('takes percentiles by nearest rank', () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1)
    expect([percentile(sorted, 50), percentile(sorted, 99), percentile(sorted, 100)]).toEqual([50, 99, 100])
    expect(percentile(new Float64Array(0), 99)).toBe(0)
  })
})
