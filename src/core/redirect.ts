import { AuthError } from './errors.js'
import type { ApplicationRecord } from './store.js'

// Schemes that run code or read local data in the browser, or are the browser's own pages
// (settings, extensions, page source): never places an application listens on.
const REFUSED_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'about:', 'filesystem:', 'view-source:'])
// Chromium's internal families: chrome:, chrome-extension:, chrome-untrusted:, chrome-search:, …
const REFUSED_SCHEME_PREFIXES = ['chrome']

/** True for a scheme (`url.protocol`, lower case with its colon) a redirect may never lead to. */
function isBrowserInternalScheme(protocol: string): boolean {
  return REFUSED_SCHEMES.has(protocol) || REFUSED_SCHEME_PREFIXES.some((prefix) => protocol.startsWith(prefix))
}

/**
 * Checks a `redirect_to` value: an absolute `http`/`https` URL, or a custom app scheme written with
 * `//` (`myapp://cb`). Relative URLs, scriptable and browser-internal schemes (even for an
 * application without redirect origins), whitespace or control characters, and
 * (when the application lists redirect origins) any other origin are refused with 422/5, which the
 * website shows as a 400 page.
 */
export function checkRedirect(raw: string, app: ApplicationRecord): URL {
  // The URL parser silently drops tabs and newlines ("java\tscript:"): refuse them outright.
  // eslint-disable-next-line no-control-regex -- matching control characters is the point: they are refused
  if (/[\s\u0000-\u001f\u007f\\]/.test(raw) || !/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) throw new AuthError('INVALID_PARAMETERS')
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new AuthError('INVALID_PARAMETERS')
  }
  if (isBrowserInternalScheme(url.protocol)) throw new AuthError('INVALID_PARAMETERS')
  if ((url.protocol === 'http:' || url.protocol === 'https:') && !url.hostname) throw new AuthError('INVALID_PARAMETERS')
  if (app.redirectOrigins.length > 0 && !app.redirectOrigins.includes(originOf(url))) throw new AuthError('INVALID_PARAMETERS')
  return url
}

/** The origin a redirect is compared by; custom schemes have an opaque origin, so scheme and host. */
export function originOf(url: URL): string {
  return url.origin !== 'null' ? url.origin : `${url.protocol}//${url.host}`
}

/** `url` with `params` added to its query (existing parameters and the fragment are kept). */
export function withQuery(url: URL, params: Record<string, string>): string {
  const result = new URL(url.href)
  for (const [name, value] of Object.entries(params)) result.searchParams.append(name, value)
  return result.href
}
