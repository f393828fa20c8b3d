import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { temporarySqliteStore, testCore } from '../test-support/fixtures.js'
import { AuthError } from './errors.js'

const KEY = '0123456789abcdef0123456789abcdef'

let core: ReturnType<typeof testCore>
let other: ReturnType<typeof testCore>
let removeAll: () => Promise<void>

beforeEach(() => {
  const first = temporarySqliteStore()
  const second = temporarySqliteStore()
  core = testCore(first.store)
  // Another database: its tokens are signed with keys this one does not have.
  other = testCore(second.store)
  removeAll = async () => {
    await first.remove()
    await second.remove()
  }
})
afterEach(() => removeAll())

describe('AdminService.createApplication() with given keys', () => {
  it('uses a given API key as is, and refuses a malformed or taken one', async () => {
    const created = await core.admin.createApplication({ name: 'Fixed', apiKey: KEY })
    expect(created.api_key).toBe(KEY)
    expect((await core.auth.authenticateClient({ apiKey: KEY })).app.id).toBe(created.id)
    await expect(core.admin.createApplication({ name: 'Again', apiKey: KEY })).rejects.toThrow('another application has that API key')
    await expect(core.admin.createApplication({ name: 'Upper', apiKey: KEY.toUpperCase() })).rejects.toThrow('32 lowercase hex')
    expect((await core.admin.listApplications()).map((app) => app.name)).toEqual(['Fixed'])
  })

  it('accepts a read access token issued elsewhere for that API key, as the application\'s own, and nothing like it', async () => {
    const issued = await other.admin.createApplication({ name: 'Elsewhere', apiKey: KEY })
    const created = await core.admin.createApplication({ name: 'Fixed', apiKey: KEY, readAccessToken: issued.read_access_token })
    expect(created).toMatchObject({ id: issued.id, read_access_token: issued.read_access_token })
    const client = await core.auth.authenticateClient({ bearer: issued.read_access_token })
    expect([client.app.id, client.user]).toEqual([issued.id, null])
    // A later token of the other database, for the same key and id, was not given: refused.
    other.clock.advance(1000)
    const later = await other.admin.readAccessToken((await other.admin.listApplications())[0]!, KEY)
    expect(later).not.toBe(issued.read_access_token)
    await expect(core.auth.authenticateClient({ bearer: later })).rejects.toEqual(new AuthError('INVALID_API_KEY'))
  })

  it('refuses a given read access token without its API key, for another key, not a JWT, or signed by this database', async () => {
    const issued = await other.admin.createApplication({ name: 'Elsewhere', apiKey: KEY })
    await expect(core.admin.createApplication({ name: 'A', readAccessToken: issued.read_access_token })).rejects.toThrow('only be given with the API key')
    await expect(core.admin.createApplication({ name: 'B', apiKey: 'f'.repeat(32), readAccessToken: issued.read_access_token })).rejects.toThrow('"aud"')
    await expect(core.admin.createApplication({ name: 'C', apiKey: KEY, readAccessToken: 'a.b.c' })).rejects.toThrow('not a JWT')
    const own = await core.admin.createApplication({ name: 'Own' })
    await expect(core.admin.createApplication({ name: 'D', apiKey: own.api_key.slice(0, -1) + (own.api_key.endsWith('0') ? '1' : '0'), readAccessToken: own.read_access_token })).rejects.toThrow('"aud"')
    const mine = await core.admin.readAccessToken((await core.admin.listApplications())[0]!, KEY)
    await expect(core.admin.createApplication({ name: 'E', apiKey: KEY, readAccessToken: mine })).rejects.toThrow('names a signing key of this database')
    expect((await core.admin.listApplications()).map((app) => app.name)).toEqual(['Own'])
  })
})
