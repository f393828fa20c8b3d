import type { CredentialRow } from '../core/account-service.js'
import { PASSWORD_RULE_TEXT } from '../core/password-rule.js'
import type { AccountRecord, CredentialKind } from '../core/store.js'
import { html, type SafeHtml } from './html.js'
import { errorSummary, field, hiddenCsrf, layout, signedInFooter, type FormError } from './pages.js'

const KIND_NAMES: Record<CredentialKind, string> = {
  session: 'API session',
  access_token: 'v4 access token',
  web_session: 'Website session',
}

/** What the last action did, shown once at the top of the page (after its redirect). */
export const ACCOUNT_NOTICES = {
  password: 'Your password is changed. Every other session and application was logged out.',
  name: 'Your display name is saved.',
  revoked: 'That session has ended.',
} as const

export type AccountNotice = keyof typeof ACCOUNT_NOTICES

export interface AccountPageInput {
  csrf: string
  account: AccountRecord
  credentials: readonly CredentialRow[]
  notice?: AccountNotice | undefined
  /** Refusals of the form just sent; the fields they name are marked. */
  errors?: readonly FormError[]
  /** The display name as typed, when its form was refused. */
  name?: string | undefined
}

/** `/account`: profile, password change, sessions and applications, log out everywhere. */
export function accountPage(input: AccountPageInput): string {
  const errors = input.errors ?? []
  const { account, csrf } = input
  return layout(
    'Your account',
    html`<h1>Your account</h1>
${errorSummary(errors)}
${input.notice ? html`<p class="notice" role="status">${ACCOUNT_NOTICES[input.notice]}</p>` : null}
<section aria-labelledby="profile-title">
<h2 id="profile-title">Profile</h2>
<p>Username: <strong>${account.username}</strong> <span class="muted">(you log in with it)</span></p>
<form method="post" action="/account/name" novalidate>
${hiddenCsrf(csrf)}
${field({ id: 'display-name', name: 'name', label: 'Display name', type: 'text', autocomplete: 'name', value: input.name ?? account.name, hint: 'The name applications show for you. Leave it empty for none.', maxlength: 100, errors })}
<button class="secondary" type="submit">Save display name</button>
</form>
</section>
<section aria-labelledby="password-title">
<h2 id="password-title">Change password</h2>
<p class="muted">Every other session and application logged in to your account is logged out; this browser stays logged in.</p>
<form method="post" action="/account/password" novalidate>
${hiddenCsrf(csrf)}
<input type="text" name="username" value="${account.username}" autocomplete="username" hidden>
${field({ id: 'current-password', name: 'current_password', label: 'Current password', type: 'password', autocomplete: 'current-password', required: true, errors })}
${field({ id: 'new-password', name: 'new_password', label: 'New password', type: 'password', autocomplete: 'new-password', hint: PASSWORD_RULE_TEXT, required: true, errors })}
<button class="primary" type="submit">Change password</button>
</form>
</section>
<section aria-labelledby="sessions-title">
<h2 id="sessions-title">Sessions and applications</h2>
${input.credentials.length === 0 ? html`<p class="muted">Nothing is logged in to your account.</p>` : credentialList(input.credentials, csrf)}
</section>
<section aria-labelledby="everywhere-title">
<h2 id="everywhere-title">Log out everywhere</h2>
<p class="muted">Ends every session above at once, this browser included.</p>
<form method="post" action="/account/logout-everywhere">${hiddenCsrf(csrf)}<button class="danger" type="submit">Log out everywhere</button></form>
</section>
${signedInFooter(account.username, csrf, '/login')}`,
    { wide: true },
  )
}

function credentialList(credentials: readonly CredentialRow[], csrf: string): SafeHtml {
  return html`<ul class="credentials">${credentials.map((row, index) => {
    const name = row.appName ?? 'cinepass website'
    return html`<li>
<div class="credential" id="credential-${index}"><span><strong>${name}</strong>${row.current ? html` <span class="badge">this browser</span>` : null}</span>
<span class="muted">${KIND_NAMES[row.kind]} · created ${when(row.createdAt)}${row.lastUsedAt !== null ? html` · last used ${when(row.lastUsedAt)}` : null}${row.expiresAt !== null ? html` · ends ${when(row.expiresAt)}` : null}</span></div>
<form method="post" action="/account/revoke">${hiddenCsrf(csrf)}<input type="hidden" name="ref" value="${row.ref}"><button class="secondary" type="submit" aria-describedby="credential-${index}">Revoke</button></form>
</li>`
  })}</ul>`
}

/** A moment as people read it (UTC, to the minute), in a <time> element machines can read. */
function when(ms: number): SafeHtml {
  const iso = new Date(ms).toISOString()
  return html`<time datetime="${iso}">${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC</time>`
}

export interface ResetForm {
  csrf: string
  token: string
  username: string
  errors?: readonly FormError[]
}

/** The page of a password reset link: a new password, once. */
export function resetPage(form: ResetForm): string {
  const errors = form.errors ?? []
  return layout(
    'Set a new password',
    html`<h1>Set a new password</h1>
${errorSummary(errors)}
<p>For the account <strong>${form.username}</strong>. This link works once, for an hour. Setting the password logs out every session of the account.</p>
<form method="post" action="/account/reset" novalidate>
${hiddenCsrf(form.csrf)}
<input type="hidden" name="token" value="${form.token}">
<input type="text" name="username" value="${form.username}" autocomplete="username" hidden>
${field({ id: 'new-password', name: 'new_password', label: 'New password', type: 'password', autocomplete: 'new-password', hint: PASSWORD_RULE_TEXT, required: true, errors })}
<button class="primary" type="submit">Set password</button>
</form>`,
  )
}
