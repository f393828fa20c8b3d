// Raw argon2id throughput of this machine with cinepass's parameters (src/core/password.ts) and the
// same number of hashes at once: the ceiling validate_with_login can reach. Prints one JSON line.
import { hash } from '@node-rs/argon2'
import { defaultHashConcurrency } from '../dist/config/abuse.js'

const seconds = Number(process.argv[2] ?? 3)
// As many at once as a cinepass server started the same way (same CPU affinity) runs by default.
const concurrency = Number(process.argv[3] ?? defaultHashConcurrency())
const options = { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 }
await hash('warm up', options)
const deadline = Date.now() + seconds * 1000
let done = 0
const started = process.hrtime.bigint()
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (Date.now() < deadline) {
      await hash('correct horse battery staple', options)
      done++
    }
  }),
)
const elapsed = Number(process.hrtime.bigint() - started) / 1e9
process.stdout.write(`${JSON.stringify({ hashes: done, seconds: elapsed, perSecond: done / elapsed, concurrency })}\n`)
