import { PASSWORD_RULE_TEXT } from '../core/password-rule.js'
import { html, type SafeHtml } from './html.js'

/** A whole page around `body`; `wide` for pages with lists (the account page). */
export function layout(title: string, body: SafeHtml, options: { wide?: boolean } = {}): string {
  const wide = options.wide ? html` class="wide"` : null
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · cinepass</title>
<link rel="stylesheet" href="/assets/cinepass.css">
</head>
<body>
<header${wide}><a class="brand" href="/">cine<span>pass</span></a></header>
<main${wide}><div class="card">
${body}
</div></main>
<footer${wide}><a href="/account">Your account</a></footer>
</body>
</html>
`.value
}

/** A refusal of a form: its message, and the ids of the fields it is about (the first one is linked). */
export interface FormError {
  message: string
  fields: string[]
}

/**
 * The error summary at the top of a refused form: announced (role=alert) and focused on load
 * (autofocus; the pages run no script), each message a link to its field.
 */
export function errorSummary(errors: readonly FormError[]): SafeHtml | null {
  if (errors.length === 0) return null
  return html`<div class="error-summary" id="error-summary" role="alert" tabindex="-1" autofocus aria-labelledby="error-summary-title">
<h2 id="error-summary-title">There is a problem</h2>
<ul>${errors.map((error) => html`<li><a href="#${error.fields[0] ?? ''}">${error.message}</a></li>`)}</ul>
</div>`
}

export interface FieldSpec {
  id: string
  name: string
  label: string
  type: 'text' | 'password' | 'email'
  autocomplete: string
  value?: string | undefined
  hint?: string | undefined
  maxlength?: number
  required?: boolean
  /** Refusals of the form; those naming this field mark it invalid and are tied to it. */
  errors: readonly FormError[]
}

/** A labelled input with its hint and, when refused, its error tied to it (aria-describedby, aria-invalid). */
export function field(spec: FieldSpec): SafeHtml {
  const mine = spec.errors.filter((error) => error.fields.includes(spec.id))
  // The message is shown under the first field it names; other fields it names point at it.
  const shown = mine.filter((error) => error.fields[0] === spec.id)
  const errorId = (error: FormError): string => `${error.fields[0]}-error`
  const describedBy = [spec.hint ? `${spec.id}-hint` : null, ...mine.map(errorId)].filter((id) => id !== null)
  // A username is typed exactly: no capital the keyboard adds, no spelling fix.
  const exact = spec.autocomplete === 'username'
  return html`<div class="field"><label for="${spec.id}">${spec.label}</label>
${spec.hint ? html`<p class="hint" id="${spec.id}-hint">${spec.hint}</p>` : null}
${shown.map((error) => html`<p class="field-error" id="${errorId(error)}"><span class="visually-hidden">Error: </span>${error.message}</p>`)}
<input id="${spec.id}" name="${spec.name}" type="${spec.type}" autocomplete="${spec.autocomplete}"${exact ? html` autocapitalize="none" spellcheck="false"` : null}${spec.required ? html` required` : null}${spec.maxlength ? html` maxlength="${spec.maxlength}"` : null}${describedBy.length > 0 ? html` aria-describedby="${describedBy.join(' ')}"` : null}${mine.length > 0 ? html` aria-invalid="true"` : null}${spec.value !== undefined && spec.type !== 'password' ? html` value="${spec.value}"` : null}></div>`
}

export function hiddenCsrf(csrf: string): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${csrf}">`
}

export interface LoginForm {
  csrf: string
  /** The local path to go to after signing in. */
  next: string
  username?: string | undefined
  error?: string | undefined
  /** What the user logs in for, e.g. "Log in to let My App use your account." */
  intro?: string | undefined
  signupOpen: boolean
}

export function loginPage(form: LoginForm): string {
  const signupHref = `/signup?next=${encodeURIComponent(form.next)}`
  const errors = form.error ? [{ message: form.error, fields: ['username', 'password'] }] : []
  return layout(
    'Log in',
    html`<h1>Log in</h1>
${errorSummary(errors)}
${form.intro ? html`<p class="muted">${form.intro}</p>` : null}
<form method="post" action="/login" novalidate>
${hiddenCsrf(form.csrf)}
<input type="hidden" name="next" value="${form.next}">
${field({ id: 'username', name: 'username', label: 'Username', type: 'text', autocomplete: 'username', value: form.username ?? '', required: true, errors })}
${field({ id: 'password', name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password', required: true, errors })}
<button class="primary" type="submit">Log in</button>
</form>
${form.signupOpen ? html`<p class="footer">No account yet? <a href="${signupHref}">Sign up</a></p>` : null}`,
  )
}

export interface SignupForm {
  csrf: string
  next: string
  username?: string | undefined
  name?: string | undefined
  email?: string | undefined
  error?: FormError | undefined
}

export function signupPage(form: SignupForm): string {
  const errors = form.error ? [form.error] : []
  return layout(
    'Sign up',
    html`<h1>Create an account</h1>
${errorSummary(errors)}
<form method="post" action="/signup" novalidate>
${hiddenCsrf(form.csrf)}
<input type="hidden" name="next" value="${form.next}">
${field({ id: 'username', name: 'username', label: 'Username', type: 'text', autocomplete: 'username', value: form.username ?? '', hint: 'Letters, digits, “_”, “.” and “-”; you log in with it.', maxlength: 64, required: true, errors })}
${field({ id: 'password', name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password', hint: PASSWORD_RULE_TEXT, required: true, errors })}
${field({ id: 'name', name: 'name', label: 'Display name (optional)', type: 'text', autocomplete: 'name', value: form.name ?? '', hint: 'The name applications show for you.', maxlength: 100, errors })}
${field({ id: 'email', name: 'email', label: 'Email (optional)', type: 'email', autocomplete: 'email', value: form.email ?? '', errors })}
<button class="primary" type="submit">Sign up</button>
</form>
<p class="footer">Already have an account? <a href="/login?next=${encodeURIComponent(form.next)}">Log in</a></p>`,
  )
}

export interface ApproveForm {
  csrf: string
  appName: string
  username: string
  /** Form targets of the two buttons. */
  approveAction: string
  denyAction: string
  /** Hidden fields both forms carry (redirect_to, request_token). */
  hidden: Record<string, string>
  /** Where the user is sent afterwards, shown so they know. */
  returnsTo: string | null
  /** The local path to come back to after signing out and in as someone else. */
  here: string
}

export function approvePage(form: ApproveForm): string {
  const hidden = html`${hiddenCsrf(form.csrf)}${Object.entries(form.hidden).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}`
  return layout(
    'Approve access',
    html`<h1>Allow <span class="app-name">${form.appName}</span> to use your account?</h1>
<p><span class="app-name">${form.appName}</span> asks to log in to cinepass as <strong>${form.username}</strong>. It will be able to read and change what your account can.</p>
${form.returnsTo ? html`<p class="muted">Afterwards you go back to ${form.returnsTo}.</p>` : null}
<div class="actions">
<form method="post" action="${form.denyAction}">${hidden}<button class="secondary" type="submit">Deny</button></form>
<form method="post" action="${form.approveAction}">${hidden}<button class="primary" type="submit">Approve</button></form>
</div>
${signedInFooter(form.username, form.csrf, form.here)}`,
  )
}

/** "Logged in as X · Log out", with a CSRF-protected logout form. */
export function signedInFooter(username: string, csrf: string, next: string): SafeHtml {
  return html`<div class="footer"><span>Logged in as <strong>${username}</strong>.</span>
<form method="post" action="/logout">${hiddenCsrf(csrf)}<input type="hidden" name="next" value="${next}"><button class="link-button" type="submit">Not you? Log out</button></form></div>`
}

/** A link under a message: where to go from a result or a refusal. */
export interface PageLink {
  href: string
  text: string
}

/**
 * A page that only says something: results (approved, denied) and refusals (404, 400, 403, 429).
 * A refusal names a way back (`link`).
 */
export function messagePage(title: string, message: string, options: { tone?: 'ok' | 'denied'; extra?: SafeHtml; link?: PageLink } = {}): string {
  const tone = options.tone === 'ok' ? 'status-ok' : options.tone === 'denied' ? 'status-denied' : null
  const link = options.link ? html`<p><a href="${options.link.href}">${options.link.text}</a></p>` : null
  return layout(title, html`<h1 class="${tone}">${title}</h1><p>${message}</p>${link}${options.extra ?? null}`)
}

/** A core message ("the password is empty") as a sentence for a page. */
export function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1) + '.'
}

/** Where every refusal page points: the start page (the log-in form when logged out). */
export const START_LINK: PageLink = { href: '/', text: 'Go to the cinepass start page' }

/** The page for a path nothing serves. */
export function notFoundPage(): string {
  return messagePage('Not found', 'There is no page at this address.', { link: START_LINK })
}
