import { describe, expect, it } from 'vitest'
import { UsageError } from '../core/errors.js'
import { loadConfig } from './config.js'
import { redactDatabase } from './database.js'

function refusal(env: Record<string, string>, flags = {}): string {
  try {
    loadConfig(env, flags)
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError)
    return (error as Error).message
  }
  throw new Error('the setting was accepted')
}

describe('loadConfig()', () => {
  it('refuses numbers, durations and choices in one style: the setting, what it must be, what it was', () => {
    expect(refusal({ CINEPASS_PORT: 'eighty' })).toBe('CINEPASS_PORT / --port must be a whole number from 0 to 65535, not "eighty"')
    expect(refusal({ CINEPASS_RATE_LIMIT: '-1' })).toBe('CINEPASS_RATE_LIMIT must be a whole number from 0 to 1000000000, not "-1"')
    expect(refusal({ CINEPASS_REQUEST_TOKEN_TTL: 'soon' })).toBe('CINEPASS_REQUEST_TOKEN_TTL (seconds) must be a whole number from 1 to 315360000, not "soon"')
    expect(refusal({ CINEPASS_SIGNUP: 'maybe' })).toBe('CINEPASS_SIGNUP must be "open" or "closed", not "maybe"')
    expect(refusal({ CINEPASS_LOG_LEVEL: 'verbose' })).toBe(
      'CINEPASS_LOG_LEVEL must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent", not "verbose"',
    )
    expect(refusal({}, { workers: '65' })).toBe('CINEPASS_WORKERS / --workers must be a whole number from 1 to 64, not "65"')
    expect(refusal({ CINEPASS_PUBLIC_URL: 'ftp://example.com' })).toBe('CINEPASS_PUBLIC_URL / --public-url must be an http(s) URL, not "ftp://example.com"')
  })

  it('refuses a database URL of an unknown scheme without showing its password', () => {
    expect(refusal({ CINEPASS_DATABASE: 'postgress://ada:secret@db/cinepass' })).toBe(
      'CINEPASS_DATABASE / --database must be a SQLite file path or a postgres:// URL, not "postgress://ada:***@db/cinepass" (unknown URL scheme)',
    )
    expect(redactDatabase('postgresql://ada:secret@db:5432/x')).toBe('postgresql://ada:***@db:5432/x')
    expect(redactDatabase('data/cinepass.db')).toBe('data/cinepass.db')
  })

  it('has its defaults when nothing is set, and takes flags over the environment', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      database: 'data/cinepass.db',
      host: '127.0.0.1',
      port: 8080,
      publicUrl: 'http://127.0.0.1:8080',
      signup: 'open',
      demo: true,
      logLevel: 'info',
      workers: 1,
    })
    expect(loadConfig({ CINEPASS_PORT: '9000' }, { port: '9001' }).port).toBe(9001)
  })

  it('closes sign-up and the demo under NODE_ENV=production unless CINEPASS_SIGNUP=open', () => {
    expect(loadConfig({ NODE_ENV: 'production' })).toMatchObject({ signup: 'closed', demo: false })
    expect(loadConfig({ NODE_ENV: 'production', CINEPASS_SIGNUP: 'open' })).toMatchObject({ signup: 'open', demo: false })
  })
})
