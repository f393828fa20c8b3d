// Query parameters that carry secrets: TMDB clients put credentials in URLs, so URLs are logged
// only with these values replaced.
const SECRET_PARAMETERS = new Set(['api_key', 'password', 'session_id', 'guest_session_id', 'request_token', 'access_token', 'token', 'csrf', '_csrf'])

// A query whose keys are plain text (no escapes, no `+`): its secret keys can be matched as written.
const SECRET_PAIR = new RegExp(`(^|&)(${[...SECRET_PARAMETERS].join('|')})=[^&]*`, 'gi')
const ESCAPED = /[%+]/

/** The URL with every secret parameter's value replaced by `[REDACTED]`, and token-bearing paths masked. */
export function redactUrl(url: string): string {
  const questionMark = url.indexOf('?')
  const path = redactPath(questionMark === -1 ? url : url.slice(0, questionMark))
  if (questionMark === -1) return path
  const query = url.slice(questionMark + 1)
  // Every request has a query to redact: the common one, without escapes, in one pass.
  if (!ESCAPED.test(query)) return `${path}?${query.replace(SECRET_PAIR, '$1$2=[REDACTED]')}`
  const parts = query.split('&').map((pair) => {
    const equals = pair.indexOf('=')
    const rawKey = equals === -1 ? pair : pair.slice(0, equals)
    let key: string
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

// Field names whose values are never logged, wherever they appear in a log line's object.
const SECRET_FIELDS = new Set([...SECRET_PARAMETERS, 'authorization', 'cookie', 'set-cookie'])

/**
 * The log line's fields with any secret-named field (at any depth up to 4) replaced by `[REDACTED]`.
 * Belt and braces: nothing should log such a field. Returns the same object when there is none, so the
 * usual flat request line costs one pass over its keys.
 */
export function maskSecretFields<T extends Record<string, unknown>>(fields: T, depth = 0): T {
  let masked: Record<string, unknown> | undefined
  for (const key in fields) {
    const value = fields[key]
    let replacement: unknown = value
    if (SECRET_FIELDS.has(key.toLowerCase())) replacement = '[REDACTED]'
    else if (depth < 4 && value !== null && typeof value === 'object' && !Array.isArray(value))
      replacement = maskSecretFields(value as Record<string, unknown>, depth + 1)
    if (replacement !== value) (masked ??= { ...fields })[key] = replacement
  }
  return (masked ?? fields) as T
}
