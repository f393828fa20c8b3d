import { html, type SafeHtml } from './html.js'

/** A whole page around `body`. */
export function layout(title: string, body: SafeHtml): string {
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
<header><a class="brand" href="/">cine<span>pass</span></a></header>
<main><div class="card">
${body}
</div></main>
</body>
</html>
`.value
}

export interface LoginForm {
  csrf: string
  /** The local path to go to after signing in. */
  next: string
  username?: string | undefined
  error?: string | undefined
  /** What the user signs in for, e.g. "Sign in to let My App use your account." */
  intro?: string | undefined
  signupOpen: boolean
}

export function loginPage(form: LoginForm): string {
  const signupHref = `/signup?next=${encodeURIComponent(form.next)}`
  return layout(
    'Log in',
    html`<h1>Log in</h1>
${form.intro ? html`<p class="muted">${form.intro}</p>` : null}
${form.error ? html`<p class="error" role="alert">${form.error}</p>` : null}
<form method="post" action="/login">
<input type="hidden" name="_csrf" value="${form.csrf}">
<input type="hidden" name="next" value="${form.next}">
<div class="field"><label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required value="${form.username ?? ''}"></div>
<div class="field"><label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required></div>
<button class="primary" type="submit">Log in</button>
</form>
${form.signupOpen ? html`<p class="footer">No account yet? <a href="${signupHref}">Sign up</a></p>` : null}`,
  )
}

export interface SignupForm {
  csrf: string
  next: string
  username?: string | undefined
  email?: string | undefined
  error?: string | undefined
}

export function signupPage(form: SignupForm): string {
  return layout(
    'Sign up',
    html`<h1>Create an account</h1>
${form.error ? html`<p class="error" role="alert">${form.error}</p>` : null}
<form method="post" action="/signup">
<input type="hidden" name="_csrf" value="${form.csrf}">
<input type="hidden" name="next" value="${form.next}">
<div class="field"><label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required maxlength="64" value="${form.username ?? ''}"></div>
<div class="field"><label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required maxlength="1024"></div>
<div class="field"><label for="email">Email (optional)</label>
<input id="email" name="email" type="email" autocomplete="email" value="${form.email ?? ''}"></div>
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
  const hidden = html`<input type="hidden" name="_csrf" value="${form.csrf}">${Object.entries(form.hidden).map(
    ([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`,
  )}`
  return layout(
    'Approve access',
    html`<h1>Allow <span class="app-name">${form.appName}</span> to use your account?</h1>
<p><span class="app-name">${form.appName}</span> asks to sign in to cinepass as <strong>${form.username}</strong>. It will be able to read and change what your account can.</p>
${form.returnsTo ? html`<p class="muted">Afterwards you go back to ${form.returnsTo}.</p>` : null}
<div class="actions">
<form method="post" action="${form.denyAction}">${hidden}<button class="secondary" type="submit">Deny</button></form>
<form method="post" action="${form.approveAction}">${hidden}<button class="primary" type="submit">Approve</button></form>
</div>
${signedInFooter(form.username, form.csrf, form.here)}`,
  )
}

/** "Signed in as X · Log out", with a CSRF-protected logout form. */
export function signedInFooter(username: string, csrf: string, next: string): SafeHtml {
  return html`<div class="footer"><span>Signed in as <strong>${username}</strong>.</span>
<form method="post" action="/logout"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="next" value="${next}"><button class="link-button" type="submit">Not you? Log out</button></form></div>`
}

/** A page that only says something: results (approved, denied) and refusals (404, 400, 403). */
export function messagePage(title: string, message: string, options: { tone?: 'ok' | 'denied'; extra?: SafeHtml } = {}): string {
  const tone = options.tone === 'ok' ? 'status-ok' : options.tone === 'denied' ? 'status-denied' : null
  return layout(title, html`<h1 class="${tone}">${title}</h1><p>${message}</p>${options.extra ?? null}`)
}
