/** The website's one stylesheet, served at `/assets/cinepass.css` (the CSP allows styles from 'self' only). */
export const STYLESHEET = `
:root { color-scheme: light dark; --bg: #f4f5f7; --card: #fff; --text: #1d2330; --muted: #5b6475; --line: #d9dde5;
  --accent: #0d5fd8; --accent-text: #fff; --danger: #b42318; --ok: #067647; --focus: #7aa7ff; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #10131a; --card: #1a1f2a; --text: #e8ebf1; --muted: #a3acbd; --line: #2e3545; --accent: #5b9bff;
    --accent-text: #0b1020; --danger: #ff8a80; --ok: #6ee7a8; }
}
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; min-height: 100vh; display: flex; flex-direction: column; align-items: center; background: var(--bg);
  color: var(--text); font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { width: 100%; max-width: 28rem; padding: 1.5rem 1rem 0.5rem; display: flex; align-items: center; gap: 0.5rem; }
.brand { font-weight: 700; font-size: 1.1rem; letter-spacing: 0.02em; color: var(--text); text-decoration: none; }
.brand span { color: var(--accent); }
main { width: 100%; max-width: 28rem; padding: 0 1rem 2rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 1.5rem;
  box-shadow: 0 1px 2px rgba(16, 24, 40, 0.06), 0 4px 12px rgba(16, 24, 40, 0.06); }
h1 { font-size: 1.35rem; line-height: 1.3; margin: 0 0 0.75rem; }
p { margin: 0 0 1rem; }
.muted { color: var(--muted); font-size: 0.95rem; }
.app-name { font-weight: 700; }
label { display: block; font-weight: 600; margin: 0 0 0.35rem; }
.field { margin-bottom: 1rem; }
input[type=text], input[type=password], input[type=email] { width: 100%; padding: 0.7rem 0.8rem; font: inherit;
  color: var(--text); background: var(--bg); border: 1px solid var(--line); border-radius: 8px; }
input:focus-visible, button:focus-visible, a:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
button { font: inherit; font-weight: 600; padding: 0.7rem 1.2rem; border-radius: 8px; border: 1px solid transparent; cursor: pointer; }
.primary { background: var(--accent); color: var(--accent-text); width: 100%; }
.secondary { background: transparent; color: var(--text); border-color: var(--line); width: 100%; }
.link-button { background: none; border: none; padding: 0; color: var(--accent); font-weight: 400; text-decoration: underline; }
.actions { display: grid; grid-template-columns: 1fr 1fr; gap: 0.75rem; margin-top: 1.25rem; }
.actions form { margin: 0; }
.error { color: var(--danger); background: color-mix(in srgb, var(--danger) 10%, transparent); border-radius: 8px;
  padding: 0.6rem 0.8rem; margin-bottom: 1rem; }
.status-ok { color: var(--ok); }
.status-denied { color: var(--danger); }
ul.scopes { margin: 0 0 1rem; padding-left: 1.2rem; }
.footer { margin-top: 1.25rem; font-size: 0.9rem; color: var(--muted); display: flex; gap: 0.5rem; flex-wrap: wrap; align-items: baseline; }
.footer form { display: inline; margin: 0; }
a { color: var(--accent); }
@media (max-width: 360px) { .actions { grid-template-columns: 1fr; } .card { padding: 1.1rem; } }
`
