import { Ajv2020 } from 'ajv/dist/2020.js'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../config/config.js'
import { buildCore, type Core } from '../server.js'
import { temporaryDirectory } from '../test-support/fixtures.js'
import { SqliteStore } from '../store/sqlite/sqlite-store.js'
import { applyFixtures } from './apply-fixtures.js'
import { validateFixtures } from './fixtures.js'

const schema = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'schemas', 'fixtures.schema.json'), 'utf8'))
const matchesSchema = new Ajv2020({ strict: true, allErrors: true }).compile(schema)

const KEY = 'fedcba9876543210fedcba9876543210'
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln'

const VALID: object[] = [
  {},
  { apps: [], users: [] },
  { $schema: './node_modules/cinepass/schemas/fixtures.schema.json', apps: [{ name: 'App' }] },
  { apps: [{ name: 'App', api_key: KEY, read_access_token: JWT, redirect_origins: ['https://app.example', 'myapp://callback'] }] },
  { users: [{ username: 'a.b-c_d', password: 'x-password', name: 'A B', disabled: true }] },
]

// Each with the field its error must name.
const INVALID: [unknown, string][] = [
  [[], 'fixtures: must be a JSON object'],
  [{ app: [] }, 'fixtures: app: is not a fixtures field'],
  [{ apps: {} }, 'fixtures: apps: must be an array'],
  [{ apps: ['App'] }, 'fixtures: apps[0]: must be an object'],
  [{ apps: [{}] }, 'apps[0].name: must be a string of 1 to 200 characters'],
  [{ apps: [{ name: '  ' }] }, 'apps[0].name: must be a string of 1 to 200 characters'],
  [{ apps: [{ name: 'x'.repeat(201) }] }, 'apps[0].name'],
  [{ apps: [{ name: 'App', apiKey: KEY }] }, 'apps[0].apiKey: is not a fixtures field'],
  [{ apps: [{ name: 'App', api_key: KEY.toUpperCase() }] }, 'apps[0].api_key: must be 32 lowercase hex characters'],
  [{ apps: [{ name: 'App', api_key: 42 }] }, 'apps[0].api_key'],
  [{ apps: [{ name: 'App', api_key: KEY, read_access_token: 'not-a-jwt' }] }, 'apps[0].read_access_token: must be a JWT'],
  [{ apps: [{ name: 'App', read_access_token: JWT }] }, 'apps[0].read_access_token: needs the "api_key"'],
  [{ apps: [{ name: 'App', redirect_origins: 'https://app.example' }] }, 'apps[0].redirect_origins: must be an array'],
  [{ apps: [{ name: 'App', redirect_origins: ['/relative'] }] }, 'apps[0].redirect_origins[0]: must be an absolute URL'],
  [{ users: [{ password: 'x-password' }] }, 'users[0].username: must be 1 to 64'],
  [{ users: [{ username: '-dash', password: 'x-password' }] }, 'users[0].username'],
  [{ users: [{ username: 'a', password: '' }] }, 'users[0].password: must be a string of 8 to 1024 characters'],
  [{ users: [{ username: 'a' }] }, 'users[0].password'],
  [{ users: [{ username: 'a', password: 'x-password', disabled: 'yes' }] }, 'users[0].disabled: must be true or false'],
  [{ users: [{ username: 'a', password: 'x-password', name: 3 }] }, 'users[0].name: must be a string'],
  [{ users: [{ username: 'a', password: 'x-password', email: 'a@example.com' }] }, 'users[0].email: is not a fixtures field'],
]

// Repeats cannot be said in JSON Schema (unique by one field, ignoring case); only the loader refuses them.
const REPEATS: [unknown, string][] = [
  [{ apps: [{ name: 'App' }, { name: 'App' }] }, `apps[1].name: repeats apps[0]'s`],
  [
    {
      apps: [
        { name: 'A', api_key: KEY },
        { name: 'B', api_key: KEY },
      ],
    },
    `apps[1].api_key: repeats apps[0]'s`,
  ],
  [
    {
      users: [
        { username: 'Ann', password: 'x-password' },
        { username: 'ann', password: 'y-password' },
      ],
    },
    `users[1].username: repeats users[0]'s`,
  ],
]

describe('validateFixtures()', () => {
  it.each(VALID.map((value) => [JSON.stringify(value), value]))('accepts %s, as the JSON Schema does', (_name, value) => {
    expect(validateFixtures(value)).toBe(value)
    expect(matchesSchema(value), JSON.stringify(matchesSchema.errors)).toBe(true)
  })

  it.each(INVALID.map(([value, message]) => [JSON.stringify(value), value, message]))(
    'refuses %s naming the field, as the JSON Schema does',
    (_name, value, message) => {
      expect(() => validateFixtures(value)).toThrow(message)
      expect(matchesSchema(value)).toBe(false)
    },
  )

  it.each(REPEATS.map(([value, message]) => [JSON.stringify(value), value, message]))('refuses the repeat in %s', (_name, value, message) => {
    expect(() => validateFixtures(value)).toThrow(message)
  })
})

describe('applyFixtures()', () => {
  let cleanup: (() => Promise<void>) | undefined
  afterEach(async () => {
    await cleanup?.()
    cleanup = undefined
  })

  function fileCore(): { core: Core; path: string; reopen: () => Core } {
    const dir = temporaryDirectory()
    const path = join(dir.path, 'cinepass.db')
    const stores = [SqliteStore.open(path)]
    cleanup = async () => {
      for (const store of stores) await store.close()
      dir.remove()
    }
    const config = loadConfig({})
    return {
      core: buildCore(stores[0]!, config),
      path,
      reopen: () => {
        stores.push(SqliteStore.open(path))
        return buildCore(stores.at(-1)!, config)
      },
    }
  }

  const FIXTURES = {
    apps: [{ name: 'Keyed', api_key: KEY, redirect_origins: ['https://app.example'] }, { name: 'Named only' }],
    users: [
      { username: 'alice', password: 'alice-pw', name: 'Alice' },
      { username: 'bob', password: 'bob-password', disabled: true },
    ],
  }

  it('applied twice to a database file, changes nothing the second time', async () => {
    const { core, reopen } = fileCore()
    const first = await applyFixtures(core, FIXTURES)
    expect(first.apps.map((app) => app.created)).toEqual([true, true])
    expect(first.users.map((user) => user.created)).toEqual([true, true])
    const before = await core.deps.store.exportAll()
    const again = reopen()
    const second = await applyFixtures(again, FIXTURES)
    expect(await again.deps.store.exportAll()).toEqual(before)
    expect(second.apps.map(({ id, created, apiKey }) => ({ id, created, apiKey }))).toEqual([
      { id: first.apps[0]!.id, created: false, apiKey: KEY },
      // Found again by name; its generated key is not known any more (only its hash is stored).
      { id: first.apps[1]!.id, created: false, apiKey: null },
    ])
    expect(second.users.map(({ id, created, updated }) => ({ id, created, updated }))).toEqual([
      { id: first.users[0]!.id, created: false, updated: false },
      { id: first.users[1]!.id, created: false, updated: false },
    ])
  })

  it('brings existing users in line: a new password, disabled or enabled again', async () => {
    const { core } = fileCore()
    await applyFixtures(core, FIXTURES)
    const changed = await applyFixtures(core, {
      users: [
        { username: 'alice', password: 'new-password', disabled: true },
        { username: 'bob', password: 'bob-password' },
      ],
    })
    expect(changed.users.map((user) => user.updated)).toEqual([true, true])
    const alice = (await core.deps.store.findAccountByUsername('alice'))!
    expect(alice.disabled).toBe(true)
    expect(await core.deps.hasher.verify(alice.passwordHash, 'new-password')).toBe(true)
    expect((await core.deps.store.findAccountByUsername('bob'))!.disabled).toBe(false)
  })

  it('refuses to rename what exists, naming the field', async () => {
    const { core } = fileCore()
    await applyFixtures(core, FIXTURES)
    await expect(applyFixtures(core, { apps: [{ name: 'Renamed', api_key: KEY }] })).rejects.toThrow(
      'apps[0].name: the application with this api_key is named "Keyed"',
    )
    await expect(applyFixtures(core, { apps: [{ name: 'Keyed', api_key: KEY }] })).rejects.toThrow('apps[0].redirect_origins')
    await expect(applyFixtures(core, { users: [{ username: 'alice', password: 'alice-pw', name: 'Other' }] })).rejects.toThrow('users[0].name')
  })

  it('names the field when the admin service refuses a value (a read access token that is not ours)', async () => {
    const { core } = fileCore()
    await expect(applyFixtures(core, { apps: [{ name: 'A', api_key: KEY, read_access_token: JWT }] })).rejects.toThrow(
      'apps[0]: the read access token must be an HS256 JWT with a "kid"',
    )
    expect(await core.deps.store.listApplications()).toEqual([])
  })
})
