import { describe, expect, it } from 'vitest'
import { UNROUTABLE_API_PATH, UNROUTABLE_PAGE_PATH } from '../http-shared/unroutable.js'
import { canonicalUrl, isApiPath, MAX_PATH_SEGMENT_LENGTH, routableUrl } from './paths.js'

describe('canonicalUrl()', () => {
  it('leaves an ordinary URL, its query string included, exactly as it is', () => {
    expect(canonicalUrl('/3/authentication?api_key=a%2Fb&x=..//')).toBe('/3/authentication?api_key=a%2Fb&x=..//')
    expect(canonicalUrl('/authenticate/abc')).toBe('/authenticate/abc')
  })

  it('collapses duplicate slashes, decodes unreserved escapes and removes dot segments, as the router reads the path', () => {
    expect(canonicalUrl('//3/authentication')).toBe('/3/authentication')
    expect(canonicalUrl('/%33/authentication?api_key=k')).toBe('/3/authentication?api_key=k')
    expect(canonicalUrl('/3//authentication/')).toBe('/3/authentication/')
    expect(canonicalUrl('/x/../3/./authentication')).toBe('/3/authentication')
    expect(canonicalUrl('/%2E%2e/%2e/3/a')).toBe('/3/a')
    expect(canonicalUrl('/a/..//3/b')).toBe('/3/b')
    expect(canonicalUrl('/3/account/..')).toBe('/3/')
    expect(canonicalUrl('/../../3')).toBe('/3')
  })

  it('keeps escapes that are not unreserved characters, so that %2F never becomes a path separator', () => {
    expect(canonicalUrl('/%2F3/authentication')).toBe('/%2F3/authentication')
    expect(canonicalUrl('/3/account/a%20b')).toBe('/3/account/a%20b')
    expect(canonicalUrl('/%2533/authentication')).toBe('/%2533/authentication')
  })

  it('reduces an absolute-form target to its path', () => {
    expect(canonicalUrl('http://example.com/3/authentication?api_key=k')).toBe('/3/authentication?api_key=k')
    expect(canonicalUrl('HTTPS://example.com')).toBe('/')
    expect(canonicalUrl('*')).toBe('*')
  })
})

describe('isApiPath()', () => {
  it('is true for /3 and /4 and everything under them, false for the website', () => {
    for (const url of ['/3', '/4', '/3/', '/3?api_key=k', '/4/auth/request_token']) expect(isApiPath(url), url).toBe(true)
    for (const url of ['/', '/30', '/authenticate/3', '/%33/x', '/healthz']) expect(isApiPath(url), url).toBe(false)
  })
})

describe('routableUrl()', () => {
  it('is canonicalUrl() for a path the router can take', () => {
    for (const url of ['/3/account?api_key=k', '//3/%61ccount?x=%ff', `/authenticate/${'a'.repeat(MAX_PATH_SEGMENT_LENGTH)}`, '/login/%C3%A9'])
      expect(routableUrl(url), url).toBe(canonicalUrl(url))
  })

  it("sends a path with an undecodable escape or an over-long segment to its side's unroutable path, keeping the query", () => {
    expect(routableUrl('/3/authentication/token/validate_with_login/%ff?api_key=k&password=p')).toBe(`${UNROUTABLE_API_PATH}?api_key=k&password=p`)
    expect(routableUrl(`//4/x/${'a'.repeat(MAX_PATH_SEGMENT_LENGTH + 1)}`)).toBe(UNROUTABLE_API_PATH)
    expect(routableUrl(`/authenticate/${'a'.repeat(MAX_PATH_SEGMENT_LENGTH + 1)}?redirect_to=x`)).toBe(`${UNROUTABLE_PAGE_PATH}?redirect_to=x`)
    expect(routableUrl('/%e2%82')).toBe(UNROUTABLE_PAGE_PATH)
  })
})
