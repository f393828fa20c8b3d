import type {
  AccountDetails,
  GuestSessionResponse,
  SessionResponse,
  StatusResponse,
  SuccessResponse,
  TokenResponseWithExpiration,
  V4AccessTokenResponse,
  V4RequestTokenResponse,
} from '../wire/types.js'

/** A check that a parsed 2xx body is the model an endpoint documents. */
export interface Shape<T> {
  name: string
  is(value: unknown): value is T
}

type Field = 'string' | 'number' | 'boolean' | 'true' | 'nullable-string'

function fieldOk(value: unknown, kind: Field): boolean {
  if (kind === 'true') return value === true
  if (kind === 'nullable-string') return value === null || typeof value === 'string'
  return typeof value === kind
}

function record(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// Extra fields are allowed (TMDB adds fields over time); the documented ones must be there and typed.
function shape<T>(name: string, fields: Record<string, Field>): Shape<T> {
  return {
    name,
    is: (value: unknown): value is T => record(value) && Object.entries(fields).every(([key, kind]) => fieldOk(value[key], kind)),
  }
}

export const SUCCESS: Shape<SuccessResponse> = shape('SuccessResponse', { success: 'true' })
export const STATUS: Shape<StatusResponse> = shape('StatusResponse', { success: 'true', status_code: 'number', status_message: 'string' })
export const TOKEN: Shape<TokenResponseWithExpiration> = shape('TokenResponseWithExpiration', {
  success: 'true',
  expires_at: 'string',
  request_token: 'string',
})
export const SESSION: Shape<SessionResponse> = shape('SessionResponse', { success: 'true', session_id: 'string' })
export const GUEST_SESSION: Shape<GuestSessionResponse> = shape('GuestSessionResponse', {
  success: 'true',
  guest_session_id: 'string',
  expires_at: 'string',
})
export const V4_REQUEST_TOKEN: Shape<V4RequestTokenResponse> = shape('V4RequestTokenResponse', {
  success: 'true',
  status_code: 'number',
  status_message: 'string',
  request_token: 'string',
})
export const V4_ACCESS_TOKEN: Shape<V4AccessTokenResponse> = shape('V4AccessTokenResponse', {
  success: 'true',
  status_code: 'number',
  status_message: 'string',
  access_token: 'string',
  account_id: 'string',
})

const ACCOUNT_FIELDS = shape<AccountDetails>('AccountDetails', {
  id: 'number',
  iso_639_1: 'string',
  iso_3166_1: 'string',
  name: 'string',
  include_adult: 'boolean',
  username: 'string',
})
export const ACCOUNT: Shape<AccountDetails> = {
  name: 'AccountDetails',
  is: (value: unknown): value is AccountDetails => {
    if (!ACCOUNT_FIELDS.is(value)) return false
    const avatar: unknown = (value as { avatar?: unknown }).avatar
    if (!record(avatar) || !record(avatar.gravatar) || !record(avatar.tmdb)) return false
    return fieldOk(avatar.gravatar.hash, 'string') && fieldOk(avatar.tmdb.avatar_path, 'nullable-string')
  },
}

/** TMDB's error body: `{"success":false,"status_code":N,"status_message":"…"}`. */
export function errorStatus(value: unknown): { statusCode: number; statusMessage: string } | null {
  if (!record(value) || typeof value.status_code !== 'number' || typeof value.status_message !== 'string') return null
  return { statusCode: value.status_code, statusMessage: value.status_message }
}
