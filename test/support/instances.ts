import { afterAll, beforeAll, expect } from 'vitest'
import { createBackend, seed, type BackendKind, type Seeded, type TestBackend } from './backends.js'
import { V3 } from './flow.js'
import { spawnServer, type ServerProcess } from './processes.js'

/** Two `cinepass serve` instances on one seeded database, and a v3 client of each. */
export interface TwoInstances {
  backend: TestBackend
  seeded: Seeded
  servers: ServerProcess[]
  instances: V3[]
}

/**
 * For the suite it is called in: a fresh database of `kind` with one application and two users,
 * served by two instances (as behind a load balancer; racers alternate between them), started
 * before the suite's tests with `env`, and stopped after them, each expected to exit cleanly.
 * The fields are filled in once the suite's `beforeAll` has run.
 */
export function twoInstances(kind: BackendKind, env: NodeJS.ProcessEnv = {}): TwoInstances {
  const suite = {} as TwoInstances
  beforeAll(async () => {
    suite.backend = await createBackend(kind)
    suite.seeded = await seed(suite.backend.database, 2)
    suite.servers = [await spawnServer(suite.backend.database, env), await spawnServer(suite.backend.database, env)]
    suite.instances = suite.servers.map((server) => new V3(server.url, suite.seeded.apiKey))
  }, 60_000)
  afterAll(async () => {
    // The fields are unset when beforeAll failed before filling them in.
    const started = suite as Partial<TwoInstances>
    for (const server of started.servers ?? []) expect(await server.stop()).toEqual({ code: 0, signal: null })
    await started.backend?.remove()
  }, 60_000)
  return suite
}
