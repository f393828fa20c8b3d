import type { CoreDeps } from './context.js'
import { UsageError } from './errors.js'
import { checkNewPassword } from './password-rule.js'
import { hashSecret, randomHex } from './secrets.js'
import type { AccountRecord, ApplicationRecord } from './store.js'

export interface CreatedApplication {
  id: string
  name: string
  api_key: string
  read_access_token: string
}

export interface NewUserInput {
  username: string
  password: string
  name?: string | undefined
  email?: string | undefined
  language?: string | undefined
  country?: string | undefined
}

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
const MAX_DISPLAY_NAME_LENGTH = 100

/**
 * What an operator does: applications, accounts, signing keys. Refusals are `UsageError`s with one
 * line naming what is wrong; nothing is changed when one is thrown.
 */
export class AdminService {
  constructor(private readonly deps: CoreDeps) {}

  /** Registers an application; its API key and read access token are shown only here, once. */
  async createApplication(input: { name: string; redirectOrigins?: string[] }): Promise<CreatedApplication> {
    const name = input.name.trim()
    if (!name || name.length > 200) throw new UsageError('the application name must be 1 to 200 characters')
    const redirectOrigins = (input.redirectOrigins ?? []).map(normalizeOrigin)
    const { store, clock, random } = this.deps
    const app: ApplicationRecord = {
      id: randomHex(random, 12),
      name,
      apiKeyHash: '',
      suspended: false,
      createdAt: clock.now(),
      redirectOrigins,
    }
    const apiKey = randomHex(random, 16)
    app.apiKeyHash = hashSecret(apiKey)
    await store.insertApplication(app)
    return { id: app.id, name: app.name, api_key: apiKey, read_access_token: await this.readAccessToken(app, apiKey) }
  }

  /** The application's read access token: TMDB's v4 "API Read Access Token", a JWT naming the API key. */
  async readAccessToken(app: ApplicationRecord, apiKey: string): Promise<string> {
    return this.deps.keys.sign({
      aud: apiKey,
      nbf: Math.floor(this.deps.clock.now() / 1000),
      sub: app.id,
      scopes: ['api_read'],
      version: 1,
    })
  }

  listApplications(): Promise<ApplicationRecord[]> {
    return this.deps.store.listApplications()
  }

  /** Suspends or resumes the application owning `apiKey`. */
  async setApplicationSuspended(apiKey: string, suspended: boolean): Promise<ApplicationRecord> {
    const app = await this.deps.store.findApplicationByKeyHash(hashSecret(apiKey))
    if (!app) throw new UsageError('no application has that API key')
    await this.deps.store.setApplicationSuspended(app.id, suspended)
    return { ...app, suspended }
  }

  async createUser(input: NewUserInput): Promise<AccountRecord> {
    if (!USERNAME.test(input.username)) {
      throw new UsageError('the username must be 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit')
    }
    const name = checkDisplayName(input.name ?? '')
    const email = input.email?.trim() || null
    if (email !== null && !/^[^\s@]+@[^\s@]+$/.test(email)) throw new UsageError('the email address is not valid')
    const { store, clock, random, hasher } = this.deps
    if (await store.findAccountByUsername(input.username)) throw new UsageError(`the username "${input.username}" is taken`)
    const password = checkNewPassword(input.password)
    const account = await store.insertAccount({
      objectId: randomHex(random, 12),
      username: input.username,
      name,
      email,
      language: input.language ?? 'en',
      country: input.country ?? 'US',
      includeAdult: false,
      passwordHash: await hasher.hash(password),
      createdAt: clock.now(),
    })
    if (!account) throw new UsageError(`the username "${input.username}" is taken`)
    return account
  }

  async #account(username: string): Promise<AccountRecord> {
    const account = await this.deps.store.findAccountByUsername(username)
    if (!account) throw new UsageError(`no user is named "${username}"`)
    return account
  }

  listUsers(): Promise<AccountRecord[]> {
    return this.deps.store.listAccounts()
  }

  /** Disabling ends every session and access token of the user at once. */
  async setUserDisabled(username: string, disabled: boolean): Promise<AccountRecord> {
    const account = await this.#account(username)
    await this.deps.store.setAccountDisabled(account.id, disabled, this.deps.clock.now())
    return { ...account, disabled }
  }

  /** Sets a new password and ends every session of the user, so a stolen one stops working. */
  async setUserPassword(username: string, password: string): Promise<AccountRecord> {
    const normalized = checkNewPassword(password)
    const account = await this.#account(username)
    await this.deps.store.setAccountPassword(account.id, await this.deps.hasher.hash(normalized), true, this.deps.clock.now())
    return account
  }
}

/** A display name as stored: trimmed, at most 100 characters, no control characters; may be empty. */
export function checkDisplayName(name: string): string {
  const trimmed = name.normalize('NFC').trim()
  if ([...trimmed].length > MAX_DISPLAY_NAME_LENGTH) throw new UsageError(`the display name must have at most ${MAX_DISPLAY_NAME_LENGTH} characters`)
  if (/\p{Cc}/u.test(trimmed)) throw new UsageError('the display name cannot hold control characters')
  return trimmed
}

function normalizeOrigin(value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new UsageError(`"${value}" is not an absolute URL`)
  }
  // Custom app schemes (myapp://cb) have an opaque origin; compare them by scheme and host.
  return url.origin !== 'null' ? url.origin : `${url.protocol}//${url.host}`
}
