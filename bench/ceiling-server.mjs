// What the building blocks of a cinepass request reach with nothing else around them: the ceilings the
// ratio targets sit under. Serves, on `node:http` or Fastify (argv[2]), one of two routes on a SQLite
// file of argv[4] with cinepass's pragmas:
//   GET /select?k=<hex>  one indexed SELECT by primary key (what a session check needs at least);
//   GET /insert          one INSERT of a random 64-hex key, committed with every other insert of the
//                        same event-loop turn in one transaction and answered after the COMMIT (group
//                        commit, what token/new needs at least).
// No API key, no hashing, no access log, no CORS, no TMDB headers: an upper bound, not a competitor.
import { hash, randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import Database from 'better-sqlite3'
import Fastify from 'fastify'

const [, , framework, portArgument, file, rowsArgument] = process.argv
const SEEDED_ROWS = Number(rowsArgument ?? 200_000)

const db = new Database(file)
db.pragma('journal_mode = WAL')
db.pragma('synchronous = NORMAL')
db.pragma('cache_size = -16384') // cinepass's page cache
db.exec(`CREATE TABLE IF NOT EXISTS rows (
  key_hash TEXT PRIMARY KEY,
  app_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  status TEXT NOT NULL
)`)
// Keys spread as cinepass's hashed tokens are (each insert lands on a page of its own); row i's key is
// ceilingKey(i) (bench/run.ts asks for rows by the same formula).
const ceilingKey = (i) => hash('sha256', `ceiling-${i}`, 'hex')
const insert = db.prepare('INSERT INTO rows VALUES (?, ?, ?, ?, ?)')
db.transaction(() => {
  for (let i = 0; i < SEEDED_ROWS; i++) insert.run(ceilingKey(i), 'app', i, i + 3_600_000, 'pending')
})()
db.pragma('wal_checkpoint(TRUNCATE)')

const select = db.prepare('SELECT * FROM rows WHERE key_hash = ?')
const begin = db.prepare('BEGIN IMMEDIATE')
const commit = db.prepare('COMMIT')

let queued = []
function flush() {
  const batch = queued
  queued = []
  const now = Date.now()
  begin.run()
  for (const item of batch) insert.run(item.key, 'app', now, now + 3_600_000, 'pending')
  commit.run()
  for (const item of batch) item.done(item.key)
}
/** Inserts a random key with group commit; `done` runs after its COMMIT. */
function insertRandom(done) {
  if (queued.length === 0) setImmediate(flush)
  queued.push({ key: randomBytes(32).toString('hex'), done })
}

const tokenBody = (key) => JSON.stringify({ success: true, expires_at: '2026-11-28 13:00:00 UTC', request_token: key.slice(0, 40) })
const found = (row) => JSON.stringify({ success: true, expires_at: '2026-11-28 13:00:00 UTC', request_token: row ? row.key_hash.slice(0, 40) : null })
const headers = { 'content-type': 'application/json;charset=utf-8', 'cache-control': 'no-store' }

let server
if (framework === 'fastify') {
  const app = Fastify({ logger: false })
  app.get('/select', async (request, reply) => reply.headers(headers).send(found(select.get(request.query.k))))
  app.get('/insert', (_request, reply) => insertRandom((key) => reply.headers(headers).send(tokenBody(key))))
  await app.listen({ host: '127.0.0.1', port: Number(portArgument) })
  server = app.server
} else {
  server = createServer((request, response) => {
    request.resume()
    const send = (body) => {
      response.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(body) })
      response.end(body)
    }
    if (request.url.startsWith('/select?k=')) send(found(select.get(request.url.slice('/select?k='.length))))
    else if (request.url === '/insert') insertRandom((key) => send(tokenBody(key)))
    else send('{}')
  })
  await new Promise((resolve) => server.listen(Number(portArgument), '127.0.0.1', resolve))
}
process.on('SIGTERM', () => server.close(() => process.exit(0)))
