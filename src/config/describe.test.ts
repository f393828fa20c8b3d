import { describe, expect, it } from 'vitest'
import { loadConfig } from './config.js'
import { counterStore, effectiveSettings, startupWarnings } from './describe.js'

describe('startupWarnings()', () => {
  it('warns when the public URL is a wildcard or loopback address while the server listens beyond loopback', () => {
    expect(startupWarnings(loadConfig({ CINEPASS_HOST: '0.0.0.0' }))).toHaveLength(1)
    expect(startupWarnings(loadConfig({ CINEPASS_HOST: '::' }))).toHaveLength(1)
    expect(startupWarnings(loadConfig({ CINEPASS_HOST: '192.0.2.7', CINEPASS_PUBLIC_URL: 'http://localhost:8080' }))).toHaveLength(1)
    expect(startupWarnings(loadConfig({ CINEPASS_HOST: '0.0.0.0', CINEPASS_PUBLIC_URL: 'http://[::1]:8080' }))).toHaveLength(1)
  })

  it('is quiet on loopback, or with a public URL others can reach', () => {
    expect(startupWarnings(loadConfig({}))).toEqual([])
    expect(startupWarnings(loadConfig({ CINEPASS_HOST: '::1' }))).toEqual([])
    expect(startupWarnings(loadConfig({ CINEPASS_HOST: '0.0.0.0', CINEPASS_PUBLIC_URL: 'https://auth.example.test' }))).toEqual([])
  })
})

describe('effectiveSettings()', () => {
  it('names the counter store and shows no password of the database or Redis', () => {
    const config = loadConfig({ CINEPASS_DATABASE: 'postgres://ada:pw1@db/x', CINEPASS_REDIS_URL: 'redis://:pw2@cache:6379' })
    expect(counterStore(config)).toBe('redis redis://:***@cache:6379')
    expect(counterStore(loadConfig({ CINEPASS_DATABASE: 'postgres://db/x' }))).toBe('postgres (the database)')
    expect(JSON.stringify(effectiveSettings(config))).not.toMatch(/pw1|pw2/)
  })

  it("names every limit, the website's and the memory bound included", () => {
    expect(effectiveSettings(loadConfig({ CINEPASS_WEB_FORM_LIMIT: '30' }))).toMatchObject({
      CINEPASS_WEB_FORM_LIMIT: 30,
      CINEPASS_SIGNUP_LIMIT: 10,
      CINEPASS_LIMITER_MEMORY_KEYS: 50_000,
    })
  })
})
