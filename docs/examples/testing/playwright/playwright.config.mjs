import { defineConfig } from '@playwright/test'

// One cinepass for the whole run, started by the global setup; tests find it in process.env.
export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.mjs',
  globalSetup: './global-setup.mjs',
  reporter: 'line',
})
