// Query parameters that carry secrets: TMDB clients put credentials in URLs, so URLs are logged
// only with these values replaced.
const SECRET_PARAMETERS = new Set([
  'api_key',
  'password',
  'session_id',
  'guest_session_id',
  'request_token',
  'access_token',
  'token',
  'csrf',
  '_csrf',
])

/** The URL with every secret parameter's value replaced by `[REDACTED]`, and token-bearing paths masked. */
export function redactUrl(url: string): string {
  const questionMark = url.indexOf('?')
  const path = redactPath(questionMark === -1 ? url : url.slice(0, questionMark))
  if (questionMark === -1) return path
  const parts = url
    .slice(questionMark + 1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=')
      const rawKey = equals === -1 ? pair : pair.slice(0, equals)
      let key = rawKey
      try {
        key = decodeURIComponent(rawKey.replace(/\+/g, ' '))
      } catch {
        // An undecodable key is logged as sent; its value is redacted below all the same.
        return `${rawKey}=[REDACTED]`
      }
      return SECRET_PARAMETERS.has(key.toLowerCase()) && equals !== -1 ? `${rawKey}=[REDACTED]` : pair
    })
  return `${path}?${parts.join('&')}`
}

// The website carries request tokens in its paths (/authenticate/<token>/allow).
function redactPath(path: string): string {
  return path.replace(/^(\/authenticate\/)[^/?]+/, '$1[REDACTED]')
}
