// The physical limit of this stack: bare node:http answering every request with a fixed JSON body
// of the same size and headers as cinepass's token/new answer.
import { createServer } from 'node:http'

const body = Buffer.from(JSON.stringify({ success: true, expires_at: '2026-11-28 13:00:00 UTC', request_token: '0123456789abcdef0123456789abcdef01234567' }))
const server = createServer((request, response) => {
  request.resume()
  response.writeHead(200, { 'content-type': 'application/json;charset=utf-8', 'cache-control': 'no-store', 'content-length': body.length })
  response.end(body)
})
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
