import { UsernameTakenError, type AdminService } from './admin-service.js'
import { isCurrent, type AuthService } from './auth-service.js'
import type { CoreDeps } from './context.js'
import { AuthError } from './errors.js'
import { checkNewPassword } from './password-rule.js'
import { checkRedirect, withQuery } from './redirect.js'
import { HEX_40, hashSecret, randomHex } from './secrets.js'
import type { AccountRecord, ApplicationRecord, IssuedRequestToken, IssuedV4RequestToken, RequestTokenRecord, V4RequestTokenRecord } from './store.js'
import { throttledName } from './usernames.js'
import type { V4Service } from './v4-service.js'

export interface WebsiteOptions {
  /** `open`: anyone may create an account on the website; `closed`: only the CLI creates accounts. */
  signup: 'open' | 'closed'
  /** How long a website sign-in lasts. */
  webSessionTtlMs: number
}

export const DEFAULT_WEB_SESSION_TTL_MS = 24 * 60 * 60 * 1000
// How stale the "last used" of a website session on the account page may be: one write a minute at most.
const WEB_SESSION_TOUCH_INTERVAL_MS = 60 * 1000

/** Who signs in: the credentials, and where from (the login throttles of issue 6 key on `address`). */
export interface SignInInput {
  username: string | undefined
  password: string | undefined
  /** The client's address, for throttling. */
  address: string
  /** The website session the browser is signed in with, if any: it ends when the new one starts. */
  previousSession?: string | undefined
}

export interface SignedIn {
  /** The website session secret, for the cookie; only its hash is stored. */
  sessionToken: string
  account: AccountRecord
}

/** A request token a user is asked to approve, v3 or v4, and the application asking. */
export interface PendingApproval {
  app: ApplicationRecord
  /** Where the user goes after deciding; null shows the website's own page. */
  redirect: URL | null
}

/**
 * The approval website's rules: signing in and up, website sessions, and approving or denying v3 and
 * v4 request tokens. Refusals are `AuthError`s: 33 for a token that is unknown, expired, used or
 * denied (the website shows 404), 5 for a refused `redirect_to` (400), 30/31/26 for sign-in.
 */
export class WebsiteService {
  constructor(
    private readonly deps: CoreDeps,
    private readonly auth: AuthService,
    private readonly admin: AdminService,
    private readonly v4: V4Service,
    readonly options: WebsiteOptions,
  ) {}

  /**
   * Website sign-in: the one entry point for the login form, so a throttle can wrap it. Same
   * refusals as `validate_with_login` (26 missing, 30 wrong, 31 disabled), and 429/25 past the
   * address's form-post limit.
   */
  async signIn(input: SignInInput): Promise<SignedIn> {
    await this.deps.limits.webForm(input.address)
    if (!input.username || !input.password) throw new AuthError('CREDENTIALS_REQUIRED')
    // The same throttled entry point as validate_with_login, so both share one set of counters.
    const account = await this.auth.signIn(input.username, input.password, input.address)
    return { sessionToken: await this.#replaceSession(input.previousSession, account), account }
  }

  /**
   * Creates an account from the sign-up form and signs it in. 404/34 when sign-up is closed; a
   * `UsageError` naming the problem for a password outside the password rule, a taken or invalid
   * username, a bad email or display name; 429/25 past the address's form-post or sign-up limit, or
   * the login throttle.
   */
  async signUp(input: SignInInput & { email: string | undefined; name?: string | undefined }): Promise<SignedIn> {
    if (this.options.signup !== 'open') throw new AuthError('NOT_FOUND')
    const { limits } = this.deps
    await limits.webForm(input.address)
    const { username, password, email, name, address } = input
    if (!username || !password) throw new AuthError('CREDENTIALS_REQUIRED')
    // A password outside the rule is refused before it uses up the address's sign-up budget.
    checkNewPassword(password)
    await limits.signup(address)
    // "Taken" tells whether an account exists, as a login does: it goes through the login throttle
    // and counts as a failed login of that name from this address.
    const account = await limits.login.attempt(
      throttledName(username),
      address,
      // UsageError (the password rule, a taken or invalid username, a bad email or display name)
      // carries a one-line reason for the form.
      () => this.admin.createUser({ username, password, email, name }, 'low'),
      (error) => error instanceof UsernameTakenError,
    )
    return { sessionToken: await this.#replaceSession(input.previousSession, account), account }
  }

  /** Ends the browser's previous website session (one browser, one sign-in) and starts a new one. */
  async #replaceSession(previousSession: string | undefined, account: AccountRecord): Promise<string> {
    await this.#endSession(previousSession)
    return this.#startSession(account)
  }

  /**
   * A new website session under the epoch `account` was read with (with the password hash that was
   * checked): refused as a wrong password (30) when its password changed, or it was disabled, since.
   */
  async #startSession(account: AccountRecord): Promise<string> {
    const { store, clock, random } = this.deps
    const sessionToken = randomHex(random, 20)
    const now = clock.now()
    const session = {
      sessionHash: hashSecret(sessionToken),
      accountId: account.id,
      createdAt: now,
      expiresAt: now + this.options.webSessionTtlMs,
      epoch: account.epoch,
    }
    if (!(await store.insertWebSession(session))) throw new AuthError('INVALID_LOGIN')
    return sessionToken
  }

  /** The signed-in account of a website session cookie, or null (unknown, expired, disabled, or from before a credential change). */
  async accountOf(sessionToken: string | undefined): Promise<AccountRecord | null> {
    if (sessionToken === undefined || !HEX_40.test(sessionToken)) return null
    const { store, clock } = this.deps
    const session = await store.findWebSession(hashSecret(sessionToken))
    if (!session || session.expiresAt <= clock.now()) return null
    const account = await store.findAccountById(session.accountId)
    if (!account || !isCurrent(session, account)) return null
    await store.touchWebSession(session.sessionHash, clock.now(), WEB_SESSION_TOUCH_INTERVAL_MS)
    return account
  }

  /** Ends a website session (the sign-out form): 429/25 past the address's form-post limit. */
  async signOut(sessionToken: string | undefined, address: string): Promise<void> {
    await this.deps.limits.webForm(address)
    await this.#endSession(sessionToken)
  }

  async #endSession(sessionToken: string | undefined): Promise<void> {
    if (sessionToken !== undefined && HEX_40.test(sessionToken)) await this.deps.store.deleteWebSession(hashSecret(sessionToken))
  }

  /** A v3 request token that can still be approved or denied, with its application; 33 otherwise. */
  async v3Approval(requestToken: string, redirectTo: string | undefined): Promise<PendingApproval> {
    return (await this.#v3Pending(requestToken, redirectTo)).approval
  }

  /** Approves a v3 request token for `account`; the URL to send the user to, or null for the /allow page. */
  async approveV3(requestToken: string, redirectTo: string | undefined, account: AccountRecord): Promise<string | null> {
    const { approval, row, issued } = await this.#v3Pending(requestToken, redirectTo)
    const approved = await this.deps.store.approveRequestToken({
      tokenHash: row.tokenHash,
      accountId: account.id,
      epoch: account.epoch,
      now: this.deps.clock.now(),
      ...(issued && { appId: issued.appId, issued }),
    })
    if (!approved) throw new AuthError('INVALID_REQUEST_TOKEN')
    return approval.redirect ? withQuery(approval.redirect, { request_token: requestToken, approved: 'true' }) : null
  }

  /** Denies a v3 request token; the URL to send the user to, or null for the /deny page. */
  async denyV3(requestToken: string, redirectTo: string | undefined): Promise<string | null> {
    const { approval, row, issued } = await this.#v3Pending(requestToken, redirectTo)
    if (!(await this.deps.store.denyRequestToken(row.tokenHash, this.deps.clock.now(), issued ?? undefined))) throw new AuthError('INVALID_REQUEST_TOKEN')
    return approval.redirect ? withQuery(approval.redirect, { request_token: requestToken, denied: 'true' }) : null
  }

  async #v3Pending(
    requestToken: string,
    redirectTo: string | undefined,
  ): Promise<{ approval: PendingApproval; row: RequestTokenRecord; issued: IssuedRequestToken | null }> {
    const { row, issued } = await this.#v3Row(requestToken)
    if (row.status === 'denied') throw new AuthError('INVALID_REQUEST_TOKEN')
    const app = await this.#application(row.appId)
    return { approval: { app, redirect: redirectTo ? checkRedirect(redirectTo, app) : null }, row, issued }
  }

  /** The application of a v3 token that now has `status` and is still unused (the /allow and /deny pages). */
  async v3Decided(requestToken: string, status: 'approved' | 'denied'): Promise<ApplicationRecord> {
    const { row } = await this.#v3Row(requestToken)
    if (row.status !== status) throw new AuthError('INVALID_REQUEST_TOKEN')
    return this.#application(row.appId)
  }

  /**
   * The live, unused token's row; for a pending token of ours, which has none, the row it gets when
   * the user decides, with what the token proves (`issued`).
   */
  async #v3Row(requestToken: string): Promise<{ row: RequestTokenRecord; issued: IssuedRequestToken | null }> {
    if (!HEX_40.test(requestToken)) throw new AuthError('INVALID_REQUEST_TOKEN')
    const tokenHash = hashSecret(requestToken)
    const stored = await this.deps.store.findRequestToken(tokenHash)
    const issued = stored ? null : ((await this.auth.requestTokenOwner(requestToken))?.issued ?? null)
    const row = stored ?? (issued && pendingRow({ tokenHash, ...issued }))
    if (!row || row.consumedAt !== null || row.expiresAt <= this.deps.clock.now()) throw new AuthError('INVALID_REQUEST_TOKEN')
    return { row, issued }
  }

  /** A v4 request token that can still be approved or denied, with its application; 33 otherwise. */
  async v4Approval(requestToken: string | undefined): Promise<PendingApproval> {
    const { row } = await this.#v4Row(requestToken)
    if (row.status === 'denied') throw new AuthError('INVALID_REQUEST_TOKEN')
    const app = await this.#application(row.appId)
    return { app, redirect: row.redirectTo ? checkRedirect(row.redirectTo, app) : null }
  }

  /** Approves a v4 request token; the `redirect_to` it was made with (as ASCII), or null for /auth/access/approve. */
  async approveV4(requestToken: string | undefined, account: AccountRecord): Promise<string | null> {
    const { row, issued } = await this.#v4Row(requestToken)
    const target = await this.#v4Target(row)
    const approved = await this.deps.store.approveV4RequestToken(row.idHash, account.id, this.deps.clock.now(), account.epoch, issued ?? undefined)
    if (!approved) throw new AuthError('INVALID_REQUEST_TOKEN')
    return target
  }

  /** Denies a v4 request token; the `redirect_to` it was made with (as ASCII), or null for /auth/access/deny. */
  async denyV4(requestToken: string | undefined): Promise<string | null> {
    const { row, issued } = await this.#v4Row(requestToken)
    const target = await this.#v4Target(row)
    const denied = await this.deps.store.denyV4RequestToken(row.idHash, this.deps.clock.now(), issued ?? undefined)
    if (!denied) throw new AuthError('INVALID_REQUEST_TOKEN')
    return target
  }

  // Built (checked, and serialised as ASCII for a Location header) before the decision is committed:
  // a redirect that cannot be built must leave the token as it was.
  async #v4Target(row: { appId: string; redirectTo: string | null }): Promise<string | null> {
    return row.redirectTo ? checkRedirect(row.redirectTo, await this.#application(row.appId)).href : null
  }

  /** The application of a v4 token that now has `status` and is still unused. */
  async v4Decided(requestToken: string | undefined, status: 'approved' | 'denied'): Promise<ApplicationRecord> {
    const { row } = await this.#v4Row(requestToken)
    if (row.status !== status) throw new AuthError('INVALID_REQUEST_TOKEN')
    return this.#application(row.appId)
  }

  /** As `#v3Row`, for a v4 request token (a signed JWT: its claims are what it proves). */
  async #v4Row(requestToken: string | undefined): Promise<{ row: V4RequestTokenRecord; issued: IssuedV4RequestToken | null }> {
    const claims = requestToken === undefined ? null : await this.v4.verifyRequestToken(requestToken)
    if (!claims) throw new AuthError('INVALID_REQUEST_TOKEN')
    const stored = await this.deps.store.findV4RequestToken(claims.idHash)
    const issued = stored ? null : await this.v4.issuedOf(claims)
    const row = stored ?? (issued && pendingRow({ idHash: claims.idHash, ...issued }))
    if (!row || row.consumedAt !== null || row.expiresAt <= this.deps.clock.now()) throw new AuthError('INVALID_REQUEST_TOKEN')
    return { row, issued }
  }

  async #application(appId: string): Promise<ApplicationRecord> {
    const app = await this.deps.store.findApplicationById(appId)
    if (!app || app.suspended) throw new AuthError('INVALID_REQUEST_TOKEN')
    return app
  }
}

/** The row a verified token would have while nobody has acted on it. */
function pendingRow<T extends object>(token: T): T & { status: 'pending'; accountId: null; consumedAt: null; epoch: null } {
  return { ...token, status: 'pending', accountId: null, consumedAt: null, epoch: null }
}
