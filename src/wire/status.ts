/**
 * TMDB's status codes used by cinepass, with the HTTP status and the message TMDB sends.
 * Messages are TMDB's own text, kept byte for byte because clients match on them.
 */
export const TMDB_STATUS = {
  SUCCESS: { status_code: 1, http: 200, message: 'Success.' },
  AUTHENTICATION_FAILED: {
    status_code: 3,
    http: 401,
    message: 'Authentication failed: You do not have permissions to access the service.',
  },
  INVALID_PARAMETERS: {
    status_code: 5,
    http: 422,
    message: 'Invalid parameters: Your request parameters are incorrect.',
  },
  INVALID_API_KEY: { status_code: 7, http: 401, message: 'Invalid API key: You must be granted a valid key.' },
  SERVICE_OFFLINE: {
    status_code: 9,
    http: 503,
    message: 'Service offline: This service is temporarily offline, try again later.',
  },
  SUSPENDED_API_KEY: {
    status_code: 10,
    http: 401,
    message: 'Suspended API key: Access to your account has been suspended, contact TMDB.',
  },
  INTERNAL_ERROR: { status_code: 11, http: 500, message: 'Internal error: Something went wrong, contact TMDB.' },
  DELETED: { status_code: 13, http: 200, message: 'The item/record was deleted successfully.' },
  SESSION_DENIED: { status_code: 17, http: 401, message: 'Session denied.' },
  RATE_LIMITED: {
    status_code: 25,
    http: 429,
    message: 'Your request count (#) is over the allowed limit of (40).',
  },
  CREDENTIALS_REQUIRED: { status_code: 26, http: 400, message: 'You must provide a username and password.' },
  INVALID_LOGIN: {
    status_code: 30,
    http: 401,
    message: 'Invalid username and/or password: You did not provide a valid login.',
  },
  ACCOUNT_DISABLED: {
    status_code: 31,
    http: 401,
    message: 'Account disabled: Your account is no longer active. Contact TMDB if this is an error.',
  },
  INVALID_REQUEST_TOKEN: {
    status_code: 33,
    http: 401,
    message: 'Invalid request token: The request token is either expired or invalid.',
  },
  NOT_FOUND: { status_code: 34, http: 404, message: 'The resource you requested could not be found.' },
  INVALID_TOKEN: { status_code: 35, http: 401, message: 'Invalid token.' },
  NO_WRITE_PERMISSION: {
    status_code: 36,
    http: 401,
    message: "This token hasn't been granted write permission by the user.",
  },
  SESSION_NOT_FOUND: { status_code: 37, http: 404, message: 'The requested session could not be found.' },
  REQUEST_TOKEN_NOT_APPROVED: {
    status_code: 41,
    http: 422,
    message: "This request token hasn't been approved by the user.",
  },
  METHOD_NOT_SUPPORTED: {
    status_code: 42,
    http: 405,
    message: 'This request method is not supported for this resource.',
  },
  INVALID_INPUT: { status_code: 47, http: 400, message: 'The input is not valid.' },
} as const satisfies Record<string, { status_code: number; http: number; message: string }>

export type TmdbStatusName = keyof typeof TMDB_STATUS

/** The rate-limit message, with TMDB's placeholders filled in. */
export function rateLimitMessage(count: number, limit: number): string {
  return `Your request count (${count}) is over the allowed limit of (${limit}).`
}
