import { decodeJwt, decodeProtectedHeader } from 'jose'
import type { CoreDeps } from './context.js'
import type { HashPriority } from './password.js'
import { UsageError } from './errors.js'
import { checkNewPassword } from './password-rule.js'
import { HEX_24, HEX_32, HEX_40, hashSecret, randomHex } from './secrets.js'
import type { AccountRecord, ApplicationRecord } from './store.js'
import { USERNAME_RULES, canonicalUsername } from './usernames.js'

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

const MAX_DISPLAY_NAME_LENGTH = 100

/** The username asked for belongs to an account already (in any spelling). */
export class UsernameTakenError extends UsageError {
  constructor(username: string) {
    super(`the username "${username}" is taken`)
    this.name = 'UsernameTakenError'
  }
}

/**
 * What an operator does: applications, accounts, signing keys. Refusals are `UsageError`s with one
 * line naming what is wrong; nothing is changed when one is thrown.
 */
export class AdminService {
  constructor(private readonly deps: CoreDeps) {}

  /**
   * Registers an application; its API key and read access token are shown only here, once. They are
   * generated unless given (fixtures fix them so that tests and CI configurations can hard-code
   * them): a given `apiKey` is 32 lowercase hex and no other application's; a given
   * `readAccessToken` needs the `apiKey` it names (`aud`), and the application takes its `sub` as id.
   */
  async createApplication(input: { name: string; redirectOrigins?: string[]; apiKey?: string; readAccessToken?: string }): Promise<CreatedApplication> {
    const name = input.name.trim()
    if (!name || name.length > 200) throw new UsageError('the application name must be 1 to 200 characters')
    const redirectOrigins = (input.redirectOrigins ?? []).map(normalizeOrigin)
    const { store, clock, random } = this.deps
    if (input.apiKey !== undefined) {
      if (!HEX_32.test(input.apiKey)) throw new UsageError('the API key must be 32 lowercase hex characters')
      if (await store.findApplicationByKeyHash(hashSecret(input.apiKey))) throw new UsageError('another application has that API key')
    }
    const apiKey = input.apiKey ?? randomHex(random, 16)
    const fixedToken = input.readAccessToken === undefined ? undefined : await this.#fixedReadAccessToken(input.readAccessToken, input.apiKey)
    const app: ApplicationRecord = {
      id: fixedToken?.appId ?? randomHex(random, 12),
      name,
      apiKeyHash: hashSecret(apiKey),
      suspended: false,
      createdAt: clock.now(),
      redirectOrigins,
    }
    await store.insertApplication(app)
    if (input.readAccessToken !== undefined) await this.deps.keys.registerFixed(input.readAccessToken)
    return { id: app.id, name: app.name, api_key: apiKey, read_access_token: input.readAccessToken ?? (await this.readAccessToken(app, apiKey)) }
  }

  /** Checks that a read access token given in advance has the shape of one of ours, for `apiKey`. */
  async #fixedReadAccessToken(token: string, apiKey: string | undefined): Promise<{ appId: string }> {
    if (apiKey === undefined) throw new UsageError('a read access token can only be given with the API key it names')
    let header: ReturnType<typeof decodeProtectedHeader>
    let payload: ReturnType<typeof decodeJwt>
    try {
      header = decodeProtectedHeader(token)
      payload = decodeJwt(token)
    } catch {
      throw new UsageError('the read access token is not a JWT')
    }
    const scopes = Array.isArray(payload.scopes) ? payload.scopes : []
    if (header.alg !== 'HS256' || typeof header.kid !== 'string') throw new UsageError('the read access token must be an HS256 JWT with a "kid"')
    if (payload.aud !== apiKey) throw new UsageError('the read access token must name the API key as its "aud"')
    if (payload.version !== 1 || !scopes.includes('api_read') || typeof payload.sub !== 'string' || !HEX_24.test(payload.sub)) {
      throw new UsageError('the read access token must have version 1, scope "api_read" and a 24-hex "sub"')
    }
    if ((await this.deps.keys.list()).some((key) => key.kid === header.kid)) throw new UsageError('the read access token names a signing key of this database')
    if (await this.deps.store.findApplicationById(payload.sub)) throw new UsageError('another application has the id the read access token names')
    return { appId: payload.sub }
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

  /** Suspends or resumes the application named by its id or its API key. */
  async setApplicationSuspended(idOrApiKey: string, suspended: boolean): Promise<ApplicationRecord> {
    const app = await this.findApplication(idOrApiKey)
    await this.deps.store.setApplicationSuspended(app.id, suspended)
    return { ...app, suspended }
  }

  /**
   * Gives the application named by its id or API key a new API key and read access token, shown
   * only here. Every running server refuses the old key within its application cache's lifetime
   * (1 s), and so every JWT that names it as its `aud`: the old read access token, and the v4 access
   * tokens issued through the old key. Sessions stay the application's.
   */
  async rotateApplicationKey(idOrApiKey: string): Promise<CreatedApplication> {
    const app = await this.findApplication(idOrApiKey)
    const apiKey = randomHex(this.deps.random, 16)
    const apiKeyHash = hashSecret(apiKey)
    if (!(await this.deps.store.setApplicationKeyHash(app.id, apiKeyHash))) throw new UsageError('no application has that id or API key')
    const rotated = { ...app, apiKeyHash }
    return { id: app.id, name: app.name, api_key: apiKey, read_access_token: await this.readAccessToken(rotated, apiKey) }
  }

  /**
   * Deletes the application named by its id or API key with everything of it (sessions, guest
   * sessions, request tokens, access tokens), in one transaction; its key is refused from then on.
   */
  async deleteApplication(idOrApiKey: string): Promise<ApplicationRecord> {
    const app = await this.findApplication(idOrApiKey)
    if (!(await this.deps.store.deleteApplication(app.id))) throw new UsageError('no application has that id or API key')
    return app
  }

  /** The application whose id or API key is `idOrApiKey`; a UsageError when there is none. */
  async findApplication(idOrApiKey: string): Promise<ApplicationRecord> {
    const { store } = this.deps
    const app = (await store.findApplicationById(idOrApiKey)) ?? (await store.findApplicationByKeyHash(hashSecret(idOrApiKey)))
    if (!app) throw new UsageError('no application has that id or API key')
    return app
  }

  /**
   * Creates an account. A taken username (UsernameTakenError) is found only after the password is
   * hashed, so it costs what a free one does and its answer takes as long. `priority` is the hash's
   * (self-service sign-ups are `low`: they yield half of the hashing queue to logins).
   */
  async createUser(input: NewUserInput, priority: HashPriority = 'normal'): Promise<AccountRecord> {
    const canonical = canonicalUsername(input.username)
    if (canonical === null) throw new UsageError(USERNAME_RULES)
    const password = checkNewPassword(input.password)
    const name = checkDisplayName(input.name ?? '')
    const email = input.email?.trim() || null
    if (email !== null && !/^[^\s@]+@[^\s@]+$/.test(email)) throw new UsageError('the email address is not valid')
    const { store, clock, random, hasher } = this.deps
    const passwordHash = await hasher.hash(password, priority)
    const account = await store.insertAccount({
      objectId: randomHex(random, 12),
      username: input.username,
      name,
      email,
      language: input.language ?? 'en',
      country: input.country ?? 'US',
      includeAdult: false,
      passwordHash,
      createdAt: clock.now(),
    })
    if (!account) throw new UsernameTakenError(input.username)
    return account
  }

  /** The user named `username` (in any spelling of it); a UsageError when there is none. */
  async findUser(username: string): Promise<AccountRecord> {
    const canonical = canonicalUsername(username)
    const account = canonical === null ? null : await this.deps.store.findAccountByUsername(canonical)
    if (!account) throw new UsageError(`no user is named "${username}"`)
    return account
  }

  /**
   * Ends the session whose id a client holds (`session_id`, 40 hex), whichever application it
   * belongs to: refused at once on every instance. A UsageError when there is no such session.
   */
  async revokeSession(sessionId: string): Promise<void> {
    const sessionHash = HEX_40.test(sessionId) ? hashSecret(sessionId) : null
    const session = sessionHash === null ? null : await this.deps.store.findSession(sessionHash)
    if (sessionHash === null || !session || !(await this.deps.store.deleteSession(sessionHash, session.appId))) {
      throw new UsageError('no session has that id (a session id is the 40 hexadecimal characters a client holds)')
    }
  }

  listUsers(): Promise<AccountRecord[]> {
    return this.deps.store.listAccounts()
  }

  /** Disabling ends every session and access token of the user at once. */
  async setUserDisabled(username: string, disabled: boolean): Promise<AccountRecord> {
    const account = await this.findUser(username)
    await this.deps.store.setAccountDisabled(account.id, disabled, this.deps.clock.now())
    return { ...account, disabled }
  }

  /**
   * Deletes the user with everything of theirs (sessions, website sessions, access tokens, the
   * request tokens they approved), in one transaction. The username may be taken again afterwards.
   */
  async deleteUser(username: string): Promise<AccountRecord> {
    const account = await this.findUser(username)
    if (!(await this.deps.store.deleteAccount(account.id))) throw new UsageError(`no user is named "${username}"`)
    return account
  }

  /** Sets a new password and ends every session of the user, so a stolen one stops working. */
  async setUserPassword(username: string, password: string): Promise<AccountRecord> {
    const normalized = checkNewPassword(password)
    const account = await this.findUser(username)
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

/** The origin `redirect_to` URLs are compared by; a `UsageError` for a value that is not an absolute URL. */
export function normalizeOrigin(value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new UsageError(`"${value}" is not an absolute URL`)
  }
  // Custom app schemes (myapp://cb) have an opaque origin; compare them by scheme and host.
  return url.origin !== 'null' ? url.origin : `${url.protocol}//${url.host}`
}
