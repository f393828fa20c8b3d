import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Files start real servers and child processes; two cores cannot run many of them at once.
    // `npm test` runs test/graceful-restart.test.ts by itself after the rest: it judges which requests
    // were sent before a SIGTERM, and another file's Chromium or load on these two cores can starve the
    // server under test for longer than its half-second grace (docs/durability.md).
    maxWorkers: 2,
  },
})
