import { normalizeOrigin } from '../core/admin-service.js'
import { UsageError } from '../core/errors.js'
import { hashSecret } from '../core/secrets.js'
import type { ApplicationRecord } from '../core/store.js'
import type { Core } from '../server.js'
import { FixtureError, type FixtureApp, type Fixtures, type FixtureUser } from './fixtures.js'

/** What `applyFixtures` did with one application. */
export interface AppliedApplication {
  id: string
  name: string
  /** The API key: as given or generated; null for an application found again without a given key (only its hash is stored). */
  apiKey: string | null
  /** As given, or a fresh one for a known API key; null when the API key is not known. */
  readAccessToken: string | null
  created: boolean
}

/** What `applyFixtures` did with one user (never the password hash). */
export interface AppliedUser {
  /** TMDB's integer account id. */
  id: number
  /** The v4 `account_id`. */
  accountObjectId: string
  username: string
  created: boolean
  /** An existing user whose password or `disabled` had to change. */
  updated: boolean
}

/**
 * Creates what the fixtures describe, or brings it in line when it exists: applications are found by
 * `api_key` (else by name), users by username. Applying the same fixtures again changes nothing.
 * An existing application with another name or other redirect origins, or an existing user with
 * another display name, is refused with a `FixtureError` (cinepass does not rename them).
 */
export async function applyFixtures(core: Core, fixtures: Fixtures): Promise<{ apps: AppliedApplication[]; users: AppliedUser[] }> {
  const apps: AppliedApplication[] = []
  for (const [i, app] of (fixtures.apps ?? []).entries()) apps.push(await withField(`apps[${i}]`, () => applyApplication(core, app, `apps[${i}]`)))
  const users: AppliedUser[] = []
  for (const [i, user] of (fixtures.users ?? []).entries()) users.push(await withField(`users[${i}]`, () => applyUser(core, user, `users[${i}]`)))
  return { apps, users }
}

async function withField<T>(field: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    // The admin service's refusals say what is wrong; the fixtures' reader also needs where.
    if (error instanceof UsageError && !(error instanceof FixtureError)) throw new FixtureError(`${field}: ${error.message}`)
    throw error
  }
}

async function applyApplication(core: Core, app: FixtureApp, at: string): Promise<AppliedApplication> {
  const { store } = core.deps
  const name = app.name.trim()
  const existing =
    app.api_key !== undefined
      ? await store.findApplicationByKeyHash(hashSecret(app.api_key))
      : (await store.listApplications()).find((candidate) => candidate.name === name)
  if (!existing) {
    const created = await core.admin.createApplication({
      name,
      ...(app.redirect_origins ? { redirectOrigins: app.redirect_origins } : {}),
      ...(app.api_key !== undefined ? { apiKey: app.api_key } : {}),
      ...(app.read_access_token !== undefined ? { readAccessToken: app.read_access_token } : {}),
    })
    return { id: created.id, name, apiKey: created.api_key, readAccessToken: created.read_access_token, created: true }
  }
  if (existing.name !== name)
    throw new FixtureError(`${at}.name: the application with this api_key is named "${existing.name}" (cinepass does not rename applications)`)
  const origins = (app.redirect_origins ?? []).map(normalizeOrigin)
  if (origins.length !== existing.redirectOrigins.length || origins.some((origin) => !existing.redirectOrigins.includes(origin))) {
    throw new FixtureError(`${at}.redirect_origins: the existing application "${name}" has other redirect origins (cinepass does not change them)`)
  }
  if (existing.suspended) await store.setApplicationSuspended(existing.id, false)
  return { id: existing.id, name, apiKey: app.api_key ?? null, readAccessToken: await knownReadAccessToken(core, existing, app, at), created: false }
}

async function knownReadAccessToken(core: Core, existing: ApplicationRecord, app: FixtureApp, at: string): Promise<string | null> {
  if (app.api_key === undefined) return null
  if (app.read_access_token === undefined) return core.admin.readAccessToken(existing, app.api_key)
  const payload = await core.keys.verify(app.read_access_token)
  if (!payload || payload.aud !== app.api_key || payload.sub !== existing.id) {
    throw new FixtureError(`${at}.read_access_token: is not a read access token of the existing application with this api_key`)
  }
  return app.read_access_token
}

async function applyUser(core: Core, user: FixtureUser, at: string): Promise<AppliedUser> {
  const { store, hasher } = core.deps
  const disabled = user.disabled ?? false
  const existing = await store.findAccountByUsername(user.username)
  if (!existing) {
    const account = await core.admin.createUser({ username: user.username, password: user.password, name: user.name })
    if (disabled) await core.admin.setUserDisabled(account.username, true)
    return { id: account.id, accountObjectId: account.objectId, username: account.username, created: true, updated: false }
  }
  if (user.name !== undefined && user.name !== existing.name)
    throw new FixtureError(`${at}.name: the user "${existing.username}" has another name (cinepass does not rename users)`)
  let updated = false
  // Setting a password ends the user's sessions: only when it really differs.
  if (!(await hasher.verify(existing.passwordHash, user.password))) {
    await core.admin.setUserPassword(existing.username, user.password)
    updated = true
  }
  if (existing.disabled !== disabled) {
    await core.admin.setUserDisabled(existing.username, disabled)
    updated = true
  }
  return { id: existing.id, accountObjectId: existing.objectId, username: existing.username, created: false, updated }
}
