import { UNROUTABLE_API_PATH, UNROUTABLE_PAGE_PATH } from '../http-shared/unroutable.js'

// RFC 3986 unreserved characters: percent-encoding one of them does not change what the URL names.
const UNRESERVED = /^[A-Za-z0-9._~-]$/

/**
 * The request target in the one spelling the router and every path-based decision (credentials,
 * API rate limit, CORS, the 404/405 answer) share: absolute-form reduced to its path, encoded
 * unreserved characters decoded (`/%33/` is `/3/`), duplicate slashes collapsed and dot segments
 * removed (RFC 3986 §6.2.2). The query string is left as it is. The router decodes the remaining
 * escapes itself, and none of those can turn into a `/`, a `.` or a digit, so a path routes to an
 * API route exactly when `isApiPath` says it is one.
 */
export function canonicalUrl(url: string): string {
  const end = queryStart(url)
  let path = url.slice(0, end)
  if (path.startsWith('/') && !path.includes('%') && !path.includes('//') && !path.includes('/.')) return url
  if (!path.startsWith('/')) {
    // Absolute-form (`GET http://host/3/… HTTP/1.1`), which the router also accepts.
    const authority = /^https?:\/\/[^/]*/i.exec(path)
    if (!authority) return url
    path = path.slice(authority[0].length) || '/'
  }
  path = path.replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16))
    return UNRESERVED.test(char) ? char : escape
  })
  return removeDotSegments(path.replace(/\/{2,}/g, '/')).replace(/\/{2,}/g, '/') + url.slice(end)
}

/** The longest path segment the router takes (its `maxParamLength`); a longer one is unroutable. */
export const MAX_PATH_SEGMENT_LENGTH = 2048

/**
 * `canonicalUrl(url)`, or, when the router could not take that path (an escape that does not decode
 * as UTF-8, or a segment longer than `MAX_PATH_SEGMENT_LENGTH`), `UNROUTABLE_API_PATH` (for an API
 * path) or `UNROUTABLE_PAGE_PATH` with the same query string.
 */
export function routableUrl(url: string): string {
  const canonical = canonicalUrl(url)
  const end = queryStart(canonical)
  const path = canonical.slice(0, end)
  if (isRoutablePath(path)) return canonical
  return (isApiPath(canonical) ? UNROUTABLE_API_PATH : UNROUTABLE_PAGE_PATH) + canonical.slice(end)
}

function isRoutablePath(path: string): boolean {
  // The common case, decided without splitting or decoding.
  if (path.length <= MAX_PATH_SEGMENT_LENGTH && !path.includes('%')) return true
  if (path.split('/').some((segment) => segment.length > MAX_PATH_SEGMENT_LENGTH)) return false
  try {
    decodeURIComponent(path)
    return true
  } catch {
    return false
  }
}

/** The API lives under /3 and /4; every other path is the website. Expects a `canonicalUrl`. */
export function isApiPath(url: string): boolean {
  return /^\/[34](?:[/?#]|$)/.test(url)
}

function queryStart(url: string): number {
  for (let i = 0; i < url.length; i++) if (url[i] === '?' || url[i] === '#') return i
  return url.length
}

function removeDotSegments(path: string): string {
  const output: string[] = []
  const segments = path.split('/').slice(1)
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1
    if (segment === '.' || segment === '..') {
      if (segment === '..' && output.length > 0) output.pop()
      // A final dot segment names a directory: keep the trailing slash.
      if (last) output.push('')
    } else {
      output.push(segment)
    }
  })
  return `/${output.join('/')}`
}
