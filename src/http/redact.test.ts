import { describe, expect, it } from 'vitest'
import { redactUrl } from './redact.js'

const SECRET = '0123456789abcdef0123456789abcdef'

describe('redactUrl()', () => {
  it('replaces the value of every secret parameter, whatever its case, and keeps the others as sent', () => {
    expect(redactUrl(`/3/account?api_key=${SECRET}&language=en-US&SESSION_ID=${SECRET}&page=2`)).toBe(
      '/3/account?api_key=[REDACTED]&language=en-US&SESSION_ID=[REDACTED]&page=2',
    )
    for (const name of ['api_key', 'password', 'session_id', 'guest_session_id', 'request_token', 'access_token', 'token', 'csrf', '_csrf']) {
      expect(redactUrl(`/x?${name}=${SECRET}`)).toBe(`/x?${name}=[REDACTED]`)
    }
  })

  it('redacts whole names only: a parameter whose name merely ends like a secret one is kept', () => {
    expect(redactUrl('/x?my_token=visible&tokens=visible&token=hidden')).toBe('/x?my_token=visible&tokens=visible&token=[REDACTED]')
  })

  it('redacts names written with escapes or `+` the same as plain ones', () => {
    expect(redactUrl(`/x?api%5Fkey=${SECRET}&q=a+b&Pass%77ord=${SECRET}`)).toBe('/x?api%5Fkey=[REDACTED]&q=a+b&Pass%77ord=[REDACTED]')
    // An undecodable name is logged as sent, its value redacted all the same.
    expect(redactUrl(`/x?%E0%A4%A=${SECRET}`)).toBe('/x?%E0%A4%A=[REDACTED]')
  })

  it('keeps a name given without a value, an empty value and a URL without a query', () => {
    expect(redactUrl('/x?api_key&session_id=')).toBe('/x?api_key&session_id=[REDACTED]')
    expect(redactUrl('/3/authentication')).toBe('/3/authentication')
  })

  it('masks the request token in website paths', () => {
    expect(redactUrl(`/authenticate/${SECRET}/allow?redirect_to=x`)).toBe('/authenticate/[REDACTED]/allow?redirect_to=x')
  })
})
