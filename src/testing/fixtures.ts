import { readFileSync } from 'node:fs'
import { normalizeOrigin } from '../core/admin-service.js'
import { USERNAME_RULES, canonicalUsername } from '../core/usernames.js'
import { UsageError } from '../core/errors.js'
import { PASSWORD_RULE, checkNewPassword } from '../core/password-rule.js'
import { HEX_32 } from '../core/secrets.js'
import { isJwtShaped } from '../core/signing-keys.js'

/** An application of the fixtures. A key that is not given is generated. */
export interface FixtureApp {
  /** 1 to 200 characters; the application is found again by it when no `api_key` is given. */
  name: string
  /** 32 lowercase hex characters, used as given. */
  api_key?: string
  /** A read access token to accept as given (a JWT cinepass issued for this `api_key` before); needs `api_key`. */
  read_access_token?: string
  /** Origins `redirect_to` may point at (`https://app.example`, `myapp://cb`); none: any allowed URL. */
  redirect_origins?: string[]
}

/** A user of the fixtures, created with this password. */
export interface FixtureUser {
  /** 1 to 64 letters, digits, `_`, `.` or `-`, starting with a letter or digit; unique ignoring case. */
  username: string
  /** 1 to 1024 characters. */
  password: string
  /** The display name (`name` of `/3/account`). */
  name?: string
  /** A disabled user exists but cannot sign in (401/31). */
  disabled?: boolean
}

/** The fixtures format (its JSON Schema ships as `cinepass/fixtures.schema.json`). */
export interface Fixtures {
  $schema?: string
  apps?: FixtureApp[]
  users?: FixtureUser[]
}

/** Fixtures that cannot be used; the message names the field (`apps[0].api_key: …`). */
export class FixtureError extends UsageError {
  constructor(message: string) {
    super(message)
    this.name = 'FixtureError'
  }
}

/**
 * Fixtures from an object, or from the JSON file at a path. Throws one `FixtureError` naming the
 * first field that is wrong (`fixtures.json: apps[0].api_key: must be 32 lowercase hex characters`).
 */
export function loadFixtures(fixtures: Fixtures | string): Fixtures {
  if (typeof fixtures !== 'string') return validateFixtures(fixtures, 'fixtures')
  let text: string
  try {
    text = readFileSync(fixtures, 'utf8')
  } catch (error) {
    throw new FixtureError(`${fixtures}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new FixtureError(`${fixtures}: not valid JSON (${(error as Error).message})`)
  }
  return validateFixtures(value, fixtures)
}

const JWT_SHAPE = 'a JWT (three base64url parts)'

/** Checks `value` against the fixtures format; `source` starts the error message (a file name). */
export function validateFixtures(value: unknown, source = 'fixtures'): Fixtures {
  const fail = (field: string, problem: string): never => {
    throw new FixtureError(`${source}: ${field ? `${field}: ` : ''}${problem}`)
  }
  if (!isObject(value)) return fail('', 'must be a JSON object with "apps" and "users"')
  onlyKeys(value, ['$schema', 'apps', 'users'], '', fail)
  const apps = optionalArray(value.apps, 'apps', fail)
  const users = optionalArray(value.users, 'users', fail)
  const names = new Map<string, number>()
  const apiKeys = new Map<string, number>()
  apps.forEach((app, i) => {
    const at = `apps[${i}]`
    if (!isObject(app)) return fail(at, 'must be an object with a "name"')
    onlyKeys(app, ['name', 'api_key', 'read_access_token', 'redirect_origins'], at, fail)
    if (typeof app.name !== 'string' || app.name.trim() === '' || app.name.trim().length > 200)
      return fail(`${at}.name`, 'must be a string of 1 to 200 characters')
    unique(names, app.name.trim(), i, `${at}.name`, 'apps', fail)
    if (app.api_key !== undefined) {
      if (typeof app.api_key !== 'string' || !HEX_32.test(app.api_key)) return fail(`${at}.api_key`, 'must be 32 lowercase hex characters')
      unique(apiKeys, app.api_key, i, `${at}.api_key`, 'apps', fail)
    }
    if (app.read_access_token !== undefined) {
      if (typeof app.read_access_token !== 'string' || !isJwtShaped(app.read_access_token)) return fail(`${at}.read_access_token`, `must be ${JWT_SHAPE}`)
      if (app.api_key === undefined) return fail(`${at}.read_access_token`, 'needs the "api_key" it was issued for')
    }
    if (app.redirect_origins !== undefined) {
      if (!Array.isArray(app.redirect_origins)) return fail(`${at}.redirect_origins`, 'must be an array of URLs')
      app.redirect_origins.forEach((origin, j) => {
        try {
          if (typeof origin !== 'string') throw new Error('not a string')
          normalizeOrigin(origin)
        } catch {
          fail(`${at}.redirect_origins[${j}]`, 'must be an absolute URL (https://app.example or myapp://callback)')
        }
      })
    }
  })
  const usernames = new Map<string, number>()
  users.forEach((user, i) => {
    const at = `users[${i}]`
    if (!isObject(user)) return fail(at, 'must be an object with a "username" and a "password"')
    onlyKeys(user, ['username', 'password', 'name', 'disabled'], at, fail)
    const canonical = typeof user.username === 'string' ? canonicalUsername(user.username) : null
    if (canonical === null) return fail(`${at}.username`, USERNAME_RULES.replace(/^the username /, ''))
    unique(usernames, canonical, i, `${at}.username`, 'users', fail)
    if (typeof user.password !== 'string' || !followsPasswordRule(user.password)) {
      return fail(`${at}.password`, `must be a string of ${PASSWORD_RULE.minLength} to ${PASSWORD_RULE.maxLength} characters`)
    }
    if (user.name !== undefined && typeof user.name !== 'string') return fail(`${at}.name`, 'must be a string')
    if (user.disabled !== undefined && typeof user.disabled !== 'boolean') return fail(`${at}.disabled`, 'must be true or false')
  })
  return value
}

type Fail = (field: string, problem: string) => never

/** Whether a fixture user's password follows the one password rule that every account's does. */
function followsPasswordRule(password: string): boolean {
  try {
    checkNewPassword(password)
    return true
  } catch (error) {
    if (error instanceof UsageError) return false
    throw error
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function onlyKeys(value: Record<string, unknown>, allowed: string[], at: string, fail: Fail): void {
  const unknown = Object.keys(value).find((key) => !allowed.includes(key))
  if (unknown !== undefined)
    fail(
      at ? `${at}.${unknown}` : unknown,
      `is not a fixtures field (expected ${allowed
        .filter((key) => key !== '$schema')
        .map((key) => `"${key}"`)
        .join(', ')})`,
    )
}

function optionalArray(value: unknown, field: string, fail: Fail): unknown[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) return fail(field, 'must be an array')
  return value
}

function unique(seen: Map<string, number>, key: string, index: number, field: string, list: string, fail: Fail): void {
  const first = seen.get(key)
  if (first !== undefined) fail(field, `repeats ${list}[${first}]'s`)
  seen.set(key, index)
}
