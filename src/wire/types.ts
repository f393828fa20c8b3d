/**
 * TMDB's JSON shapes, exactly as on the wire (snake_case). Names follow the models of TMDB's
 * generated clients (the seed's `SuccessResponse`, `TokenResponseWithExpiration`, …).
 */

/** Every error body, and `GET /3/authentication`. */
export interface StatusResponse {
  success: boolean
  status_code: number
  status_message: string
}

/** `session/new` for a token the user has not approved carries TMDB's extra `failure` field. */
export interface SessionDeniedResponse extends StatusResponse {
  failure: true
}

export interface SuccessResponse {
  success: boolean
}

export interface TokenResponseWithExpiration {
  success: boolean
  expires_at: string
  request_token: string
}

export type TokenResponse = TokenResponseWithExpiration

export interface SessionResponse {
  success: boolean
  session_id: string
}

export interface GuestSessionResponse {
  success: boolean
  guest_session_id: string
  expires_at: string
}

export interface AccessTokenBody {
  access_token: string
}

export interface AccountDetails {
  avatar: { gravatar: { hash: string }; tmdb: { avatar_path: string | null } }
  id: number
  iso_639_1: string
  iso_3166_1: string
  name: string
  include_adult: boolean
  username: string
}

export interface V4RequestTokenResponse extends StatusResponse {
  request_token: string
}

export interface V4AccessTokenResponse extends StatusResponse {
  access_token: string
  account_id: string
}

// The text changes once a second while every token/new and guest session formats one: the last
// second's text is kept.
let lastFormatted = { second: Number.NaN, text: '' }

/** TMDB's timestamp form, `2016-08-26 17:04:39 UTC`. */
export function formatTmdbTime(epochMs: number): string {
  const second = Math.floor(epochMs / 1000)
  if (second !== lastFormatted.second) lastFormatted = { second, text: new Date(second * 1000).toISOString().replace('T', ' ').replace('.000Z', ' UTC') }
  return lastFormatted.text
}

/** The JSON Content-Type TMDB sends on every API response. */
export const JSON_CONTENT_TYPE = 'application/json;charset=utf-8'
