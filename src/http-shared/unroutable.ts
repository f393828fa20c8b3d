/**
 * Where a request goes whose own path the router cannot take (an escape that does not decode, a
 * segment longer than any parameter may be): its URL is rewritten before routing to one of these,
 * with its query kept, so that it passes through every hook like any request (rate limit,
 * credentials, access log, metrics) and is answered as bad input on its side: 400/47 in TMDB's
 * format under `/3` and `/4`, the website's 400 page elsewhere. Without them the router would
 * answer by itself, quoting the URL with whatever secrets it holds.
 */
export const UNROUTABLE_API_PATH = '/3/unroutable-url'

/** The website side of `UNROUTABLE_API_PATH`. */
export const UNROUTABLE_PAGE_PATH = '/unroutable-url'
