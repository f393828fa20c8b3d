// What the building blocks of a cinepass request reach with nothing else around them: the ceilings the
// ratio targets sit under. Serves, on `node:http` or Fastify (argv[2]), one of two routes on argv[4]: a
// SQLite file (with cinepass's pragmas) or a PostgreSQL URL (a pool of 10 connections, cinepass's default):
//   GET /select?k=<hex>  one indexed SELECT by primary key (what a session check needs at least); on
//                        PostgreSQL the lookups of one event-loop turn go as one `WHERE key_hash = ANY($1)`;
//   GET /insert          one INSERT of a random 64-hex key, committed with every other insert of the
//                        same event-loop turn (one transaction on SQLite, one multi-row INSERT on
//                        PostgreSQL) and answered after the COMMIT (group commit, what token/new needs at least).
// No API key, no hashing, no access log, no CORS, no TMDB headers: an upper bound, not a competitor.
import { hash, randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import Fastify from 'fastify'

const [, , framework, portArgument, database, rowsArgument] = process.argv
const SEEDED_ROWS = Number(rowsArgument ?? 200_000)
const TTL_MS = 3_600_000

/** Calls `flush` with everything `add`ed during one event-loop turn, once the turn is over. */
function perTurn(flush) {
  let queued = []
  return (item) => {
    if (queued.length === 0)
      setImmediate(() => {
        const batch = queued
        queued = []
        flush(batch)
      })
    queued.push(item)
  }
}

/** SQLite: `select(key, done)` answers at once; inserts of a turn are one transaction. */
async function sqliteStorage(file) {
  const { default: Database } = await import('better-sqlite3')
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
  // the SHA-256 of `ceiling-<i>` (bench/run.ts asks for rows by the same formula).
  const insert = db.prepare('INSERT INTO rows VALUES (?, ?, ?, ?, ?)')
  db.transaction(() => {
    for (let i = 0; i < SEEDED_ROWS; i++) insert.run(hash('sha256', `ceiling-${i}`, 'hex'), 'app', i, i + TTL_MS, 'pending')
  })()
  db.pragma('wal_checkpoint(TRUNCATE)')
  const select = db.prepare('SELECT * FROM rows WHERE key_hash = ?')
  const begin = db.prepare('BEGIN IMMEDIATE')
  const commit = db.prepare('COMMIT')
  return {
    select: (key, done) => done(select.get(key)),
    insert: perTurn((batch) => {
      const now = Date.now()
      begin.run()
      for (const item of batch) insert.run(item.key, 'app', now, now + TTL_MS, 'pending')
      commit.run()
      for (const item of batch) item.done()
    }),
  }
}

/** PostgreSQL: the lookups of a turn are one query, the inserts of a turn one statement (its own transaction). */
async function postgresStorage(url) {
  const { default: pg } = await import('pg')
  const pool = new pg.Pool({ connectionString: url, max: 10 })
  await pool.query(`CREATE TABLE IF NOT EXISTS rows (
    key_hash TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    status TEXT NOT NULL
  )`)
  await pool.query(
    `INSERT INTO rows SELECT encode(sha256(convert_to('ceiling-' || i, 'UTF8')), 'hex'), 'app', i, i + ${TTL_MS}, 'pending'
     FROM generate_series(0, $1::int - 1) AS i ON CONFLICT DO NOTHING`,
    [SEEDED_ROWS],
  )
  await pool.query('VACUUM ANALYZE rows')
  const failed = (batch, error) => {
    for (const item of batch) item.done(undefined, error)
  }
  const lookup = perTurn((batch) => {
    const keys = [...new Set(batch.map((item) => item.key))]
    pool.query('SELECT * FROM rows WHERE key_hash = ANY($1::text[])', [keys]).then(
      ({ rows }) => {
        const byKey = new Map(rows.map((row) => [row.key_hash, row]))
        for (const item of batch) item.done(byKey.get(item.key))
      },
      failed.bind(null, batch),
    )
  })
  return {
    select: (key, done) => lookup({ key, done }),
    insert: perTurn((batch) => {
      const now = Date.now()
      pool.query(`INSERT INTO rows SELECT k, 'app', $2, $3, 'pending' FROM unnest($1::text[]) AS k`, [batch.map((item) => item.key), now, now + TTL_MS]).then(
        () => {
          for (const item of batch) item.done()
        },
        failed.bind(null, batch),
      )
    }),
  }
}

const storage = database.startsWith('postgres') ? await postgresStorage(database) : await sqliteStorage(database)
/** Inserts a random key with group commit; `done(key)` runs after its COMMIT. */
function insertRandom(done) {
  const key = randomBytes(32).toString('hex')
  storage.insert({ key, done: (_row, error) => done(key, error) })
}

const tokenBody = (key) => JSON.stringify({ success: true, expires_at: '2026-11-28 13:00:00 UTC', request_token: key.slice(0, 40) })
const found = (row) => JSON.stringify({ success: true, expires_at: '2026-11-28 13:00:00 UTC', request_token: row ? row.key_hash.slice(0, 40) : null })
const headers = { 'content-type': 'application/json;charset=utf-8', 'cache-control': 'no-store' }

let server
if (framework === 'fastify') {
  const app = Fastify({ logger: false })
  const answer = (reply, error, body) => (error ? reply.code(500).send('{}') : reply.headers(headers).send(body))
  app.get('/select', (request, reply) => storage.select(request.query.k, (row, error) => answer(reply, error, found(row))))
  app.get('/insert', (_request, reply) => insertRandom((key, error) => answer(reply, error, tokenBody(key))))
  await app.listen({ host: '127.0.0.1', port: Number(portArgument) })
  server = app.server
} else {
  server = createServer((request, response) => {
    request.resume()
    const send = (error, body) => {
      response.writeHead(error ? 500 : 200, { ...headers, 'content-length': Buffer.byteLength(body) })
      response.end(body)
    }
    if (request.url.startsWith('/select?k=')) storage.select(request.url.slice('/select?k='.length), (row, error) => send(error, found(row)))
    else if (request.url === '/insert') insertRandom((key, error) => send(error, tokenBody(key)))
    else send(undefined, '{}')
  })
  await new Promise((resolve) => server.listen(Number(portArgument), '127.0.0.1', resolve))
}
process.on('SIGTERM', () => server.close(() => process.exit(0)))
