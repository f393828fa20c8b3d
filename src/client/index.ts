/**
 * `cinepass/client`: a typed client for TMDB's authentication API (and cinepass), with no runtime
 * dependencies. Models keep TMDB's wire names (snake_case).
 */
export { AuthenticationApi, DEFAULT_BASE_URL, parseRetryAfter, type AuthenticationApiOptions, type FetchLike, type RetryOptions } from './authentication-api.js'
export { TmdbClientError, TmdbError, TmdbInvalidResponseError, TmdbNetworkError, TmdbTimeoutError } from './errors.js'
export type {
  AccessTokenBody,
  AccountDetails,
  GuestSessionResponse,
  SessionDeniedResponse,
  SessionResponse,
  StatusResponse,
  SuccessResponse,
  TokenResponse,
  TokenResponseWithExpiration,
  V4AccessTokenResponse,
  V4RequestTokenResponse,
} from '../wire/types.js'
