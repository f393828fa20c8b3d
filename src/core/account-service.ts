import { checkDisplayName } from './admin-service.js'
import type { AuthService } from './auth-service.js'
import type { CoreDeps } from './context.js'
import { AuthError, UsageError } from './errors.js'
import { checkNewPassword } from './password-rule.js'
import { HEX_40, constantTimeEqual, hashSecret, randomHex } from './secrets.js'
import type { AccountRecord, CredentialKind } from './store.js'
import { canonicalUsername } from './usernames.js'

/**
 * The most credentials the account page lists (newest first): a client that made thousands of
 * sessions must not make the page that many rows. Log out everywhere ends the rest too.
 */
export const CREDENTIALS_SHOWN = 200

/** How long a password reset link works. */
export const RESET_LINK_TTL_MS = 60 * 60 * 1000

/** One row of "Sessions and applications" on the account page. */
export interface CredentialRow {
  /**
   * Names the row in the Revoke form: derived from the stored hash one way, so the page never shows
   * a stored hash (or anything that finds a credential without the account's own website session).
   */
  ref: string
  kind: CredentialKind
  /** The application's name; null for a website session. */
  appName: string | null
  createdAt: number
  expiresAt: number | null
  /** When it was last used, where that is recorded (website sessions); null otherwise. */
  lastUsedAt: number | null
  /** True for the website session this page is seen through. */
  current: boolean
}

/** What the account page asks to change the password: the current one proves who asks. */
export interface PasswordChangeInput {
  account: AccountRecord
  currentPassword: string | undefined
  newPassword: string | undefined
  /** The website session the change comes through: it stays signed in; every other credential ends. */
  webSessionToken: string
  /** The client's address, for the login throttle. */
  address: string
}

/**
 * The account page's rules: a person's own credentials (list, revoke one, end all), the password
 * change, the display name, and password recovery by a one-time link an operator hands out.
 * Refusals: `AuthError` 26 (no current password), 30 (wrong current password), 25 (throttled, as
 * sign-in), 34 (a reset link that is unknown, used, replaced or expired); `UsageError` with one line
 * for a new password outside the password rule or a bad display name.
 */
export class AccountService {
  constructor(
    private readonly deps: CoreDeps,
    private readonly auth: AuthService,
  ) {}

  /**
   * Counts one form post of the account pages from `address` against the website's per-address
   * form limit (the one sign-in, sign-up and sign-out share): 429/25 past it.
   */
  formPost(address: string): Promise<void> {
    return this.deps.limits.webForm(address)
  }

  /** The account's live sessions, access tokens and website sessions, newest first (`CREDENTIALS_SHOWN` at most). */
  async credentials(account: AccountRecord, webSessionToken?: string): Promise<CredentialRow[]> {
    // Without a website session (an operator's `cinepass sessions list`) no row is the current one.
    const current = webSessionToken === undefined ? null : hashSecret(webSessionToken)
    const rows = await this.deps.store.listAccountCredentials(account.id, this.deps.clock.now(), CREDENTIALS_SHOWN)
    return rows.map((row) => ({
      ref: credentialRef(row.kind, row.hash),
      kind: row.kind,
      appName: row.appName,
      createdAt: row.createdAt,
      expiresAt: row.expiresAt,
      lastUsedAt: row.lastUsedAt,
      current: row.kind === 'web_session' && row.hash === current,
    }))
  }

  /**
   * Ends the credential the page named `ref` at once (every instance checks the database). Returns
   * its kind and whether it was the current website session (the caller then signs out); null when
   * the account has no live credential of that name (already ended, or not the account's).
   */
  async revoke(account: AccountRecord, ref: string | undefined, webSessionToken?: string): Promise<{ kind: CredentialKind; current: boolean } | null> {
    if (ref === undefined) return null
    const now = this.deps.clock.now()
    const rows = await this.deps.store.listAccountCredentials(account.id, now, CREDENTIALS_SHOWN)
    const row = rows.find((candidate) => constantTimeEqual(credentialRef(candidate.kind, candidate.hash), ref))
    if (!row || !(await this.deps.store.endAccountCredential(account.id, { kind: row.kind, hash: row.hash }, now))) return null
    return { kind: row.kind, current: row.kind === 'web_session' && webSessionToken !== undefined && row.hash === hashSecret(webSessionToken) }
  }

  /** Ends every credential of the account, the current website session included. */
  async logOutEverywhere(account: AccountRecord): Promise<void> {
    await this.deps.store.endAccountCredentials(account.id, this.deps.clock.now(), null)
  }

  /**
   * Changes the password after checking the current one through the throttled sign-in (so guessing
   * here counts like guessing at the login form), and ends every other credential of the account in
   * the same transaction, keeping the website session the change came through.
   */
  async changePassword(input: PasswordChangeInput): Promise<void> {
    const { account } = input
    if (!input.currentPassword) throw new AuthError('CREDENTIALS_REQUIRED')
    await this.auth.signIn(account.username, input.currentPassword, input.address)
    const normalized = checkNewPassword(input.newPassword ?? '')
    const passwordHash = await this.deps.hasher.hash(normalized)
    // Read after the check: a successful sign-in may have just rehashed the stored password.
    const stored = await this.deps.store.findAccountById(account.id)
    if (!stored) throw new AuthError('INVALID_LOGIN')
    const changed = await this.deps.store.changeAccountPassword({
      accountId: account.id,
      passwordHash,
      expectedHash: stored.passwordHash,
      now: this.deps.clock.now(),
      keepWebSessionHash: hashSecret(input.webSessionToken),
    })
    // Someone else (the CLI, a reset link) changed it in between: theirs stands.
    if (!changed) throw new AuthError('INVALID_LOGIN')
  }

  /** Sets the display name shown to applications (`name` in /3/account); empty clears it. */
  async setDisplayName(account: AccountRecord, name: string | undefined): Promise<string> {
    const checked = checkDisplayName(name ?? '')
    await this.deps.store.setAccountName(account.id, checked)
    return checked
  }

  /**
   * A one-time password reset token for the user (for `cinepass users reset-link`): valid for an
   * hour, stored only as its hash; it replaces any earlier link of the account.
   */
  async createResetToken(username: string): Promise<{ token: string; account: AccountRecord; expiresAt: number }> {
    const canonical = canonicalUsername(username)
    const account = canonical === null ? null : await this.deps.store.findAccountByUsername(canonical)
    if (!account) throw new UsageError(`no user is named "${username}"`)
    if (account.disabled) throw new UsageError(`the user "${account.username}" is disabled; enable it first`)
    const token = randomHex(this.deps.random, 20)
    const now = this.deps.clock.now()
    const expiresAt = now + RESET_LINK_TTL_MS
    await this.deps.store.insertPasswordResetToken({ tokenHash: hashSecret(token), accountId: account.id, createdAt: now, expiresAt, usedAt: null })
    return { token, account, expiresAt }
  }

  /** The account a reset token can still reset; 404/34 when it is unknown, used, replaced or expired. */
  async resetTarget(token: string | undefined): Promise<AccountRecord> {
    const row = token !== undefined && HEX_40.test(token) ? await this.deps.store.findPasswordResetToken(hashSecret(token)) : null
    if (!row || row.usedAt !== null || row.expiresAt <= this.deps.clock.now()) throw new AuthError('NOT_FOUND')
    const account = await this.deps.store.findAccountById(row.accountId)
    if (!account || account.disabled) throw new AuthError('NOT_FOUND')
    return account
  }

  /**
   * Sets a new password with a reset token and ends every credential of the account. The token is
   * used once: of racing callers exactly one succeeds; the others get 404/34.
   */
  async resetPassword(token: string | undefined, newPassword: string | undefined): Promise<AccountRecord> {
    const account = await this.resetTarget(token)
    const normalized = checkNewPassword(newPassword ?? '')
    const passwordHash = await this.deps.hasher.hash(normalized)
    const accountId = await this.deps.store.resetPasswordWithToken(hashSecret(token!), passwordHash, this.deps.clock.now())
    if (accountId === null) throw new AuthError('NOT_FOUND')
    return account
  }
}

function credentialRef(kind: CredentialKind, hash: string): string {
  return hashSecret(`account-page:${kind}:${hash}`).slice(0, 32)
}
