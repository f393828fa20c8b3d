import { fileURLToPath } from 'node:url'
import { startTestServer } from 'cinepass/testing'

// Playwright passes the environment set here on to its test workers; the returned function is the teardown.
export default async function globalSetup() {
  const cp = await startTestServer({ fixtures: fileURLToPath(new URL('../fixtures.json', import.meta.url)) })
  process.env.TMDB_BASE_URL = cp.url
  process.env.TMDB_API_KEY = cp.apiKey
  process.env.TMDB_USERNAME = cp.users[0].username
  process.env.TMDB_PASSWORD = cp.users[0].password
  return () => cp.close()
}
