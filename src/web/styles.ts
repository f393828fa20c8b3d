/**
 * The website's one stylesheet, served at `/assets/cinepass.css` (the CSP allows styles from 'self' only).
 * Contrast (WCAG 2.2 AA), light / dark: text ≥ 4.5:1; what shows a control or a state (input borders
 * `--field-line`, the focus ring `--focus`, the error marks) ≥ 3:1 against the card and the page.
 */
export const STYLESHEET = `
:root { color-scheme: light dark; --bg: #f4f5f7; --card: #fff; --text: #1d2330; --muted: #5b6475; --line: #d9dde5;
  --field-line: #6b7385; --accent: #0d5fd8; --accent-text: #fff; --danger: #b42318; --danger-text: #fff; --ok: #067647;
  --focus: #0d5fd8; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #10131a; --card: #1a1f2a; --text: #e8ebf1; --muted: #a3acbd; --line: #2e3545; --field-line: #7d879b;
    --accent: #5b9bff; --accent-text: #0b1020; --danger: #ff8a80; --danger-text: #0b1020; --ok: #6ee7a8; --focus: #8ab4ff; }
}
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; min-height: 100vh; display: flex; flex-direction: column; align-items: center; background: var(--bg);
  color: var(--text); font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header, main, body > footer { width: 100%; max-width: 28rem; }
header.wide, main.wide, body > footer.wide { max-width: 44rem; }
header { padding: 1.5rem 1rem 0.5rem; display: flex; align-items: center; gap: 0.5rem; }
.brand { font-weight: 700; font-size: 1.1rem; letter-spacing: 0.02em; color: var(--text); text-decoration: none; }
.brand span { color: var(--accent); }
main { padding: 0 1rem 1rem; }
body > footer { padding: 0 1rem 2rem; font-size: 0.9rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 1.5rem;
  box-shadow: 0 1px 2px rgba(16, 24, 40, 0.06), 0 4px 12px rgba(16, 24, 40, 0.06); }
h1 { font-size: 1.35rem; line-height: 1.3; margin: 0 0 0.75rem; }
h2 { font-size: 1.1rem; line-height: 1.3; margin: 0 0 0.5rem; }
section { border-top: 1px solid var(--line); padding-top: 1.25rem; margin-top: 1.25rem; }
p { margin: 0 0 1rem; }
.muted { color: var(--muted); font-size: 0.95rem; }
.app-name { font-weight: 700; }
label { display: block; font-weight: 600; margin: 0 0 0.35rem; }
.field { margin-bottom: 1rem; }
.hint { color: var(--muted); font-size: 0.9rem; margin: -0.2rem 0 0.4rem; }
input[type=text], input[type=password], input[type=email] { width: 100%; padding: 0.7rem 0.8rem; font: inherit;
  color: var(--text); background: var(--bg); border: 1px solid var(--field-line); border-radius: 8px; }
input[aria-invalid=true] { border: 2px solid var(--danger); }
input:focus-visible, button:focus-visible, a:focus-visible, .error-summary:focus { outline: 3px solid var(--focus); outline-offset: 2px; }
button { font: inherit; font-weight: 600; padding: 0.7rem 1.2rem; border-radius: 8px; border: 1px solid transparent; cursor: pointer; }
.primary { background: var(--accent); color: var(--accent-text); width: 100%; }
.secondary { background: transparent; color: var(--text); border-color: var(--field-line); width: 100%; }
.danger { background: var(--danger); color: var(--danger-text); }
.link-button { background: none; border: none; padding: 0; color: var(--accent); font-weight: 400; text-decoration: underline; }
.actions { display: grid; grid-template-columns: 1fr 1fr; gap: 0.75rem; margin-top: 1.25rem; }
.actions form { margin: 0; }
.error, .error-summary { color: var(--text); border: 2px solid var(--danger); border-radius: 8px; padding: 0.6rem 0.8rem; margin-bottom: 1rem; }
.error-summary h2 { color: var(--danger); font-size: 1rem; margin: 0 0 0.35rem; }
.error-summary ul { margin: 0; padding-left: 1.2rem; }
.error-summary a { color: var(--danger); font-weight: 600; }
.field-error { color: var(--danger); font-weight: 600; margin: 0 0 0.35rem; }
.notice { border-left: 4px solid var(--ok); padding: 0.4rem 0.8rem; }
.status-ok { color: var(--ok); }
.status-denied { color: var(--danger); }
.credentials { list-style: none; margin: 0; padding: 0; }
.credentials li { display: flex; gap: 0.75rem; align-items: center; justify-content: space-between; padding: 0.75rem 0;
  border-bottom: 1px solid var(--line); }
.credentials li:last-child { border-bottom: none; }
.credential { display: flex; flex-direction: column; min-width: 0; overflow-wrap: anywhere; }
.credentials form { margin: 0; flex: none; }
.credentials button { width: auto; padding: 0.45rem 0.9rem; }
.badge { display: inline-block; font-size: 0.8rem; font-weight: 600; border: 1px solid var(--field-line); border-radius: 999px;
  padding: 0 0.5rem; margin-left: 0.25rem; }
.footer { margin-top: 1.25rem; font-size: 0.9rem; color: var(--muted); display: flex; gap: 0.5rem; flex-wrap: wrap; align-items: baseline; }
.footer form { display: inline; margin: 0; }
a { color: var(--accent); }
.visually-hidden { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden; clip: rect(0 0 0 0); border: 0; white-space: nowrap; }
@media (max-width: 360px) { .actions { grid-template-columns: 1fr; } .card { padding: 1.1rem; } }
`
