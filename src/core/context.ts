import type { Clock } from './clock.js'
import type { PasswordHasher } from './password.js'
import type { AbuseLimits } from './rate-limits.js'
import type { RandomSource } from './secrets.js'
import type { SigningKeys } from './signing-keys.js'
import type { ApplicationRecord, Store } from './store.js'

/** Lifetimes of what cinepass issues. */
export interface Lifetimes {
  /** A v3 request token: TMDB's 60 minutes. */
  requestTokenTtlMs: number
  /** A guest session: TMDB's 24 hours. */
  guestSessionTtlMs: number
  /** A session; null (the default, TMDB's behaviour) means it lives until deleted. */
  sessionTtlMs: number | null
  /** A v4 request token: TMDB's 15 minutes. */
  v4RequestTokenTtlMs: number
}

export const DEFAULT_LIFETIMES: Lifetimes = {
  requestTokenTtlMs: 60 * 60 * 1000,
  guestSessionTtlMs: 24 * 60 * 60 * 1000,
  sessionTtlMs: null,
  v4RequestTokenTtlMs: 15 * 60 * 1000,
}

/** What every core service is built from. Tests swap the clock and the random source. */
export interface CoreDeps {
  store: Store
  clock: Clock
  random: RandomSource
  hasher: PasswordHasher
  keys: SigningKeys
  lifetimes: Lifetimes
  /** Per-address limits and the login throttle (always on). */
  limits: AbuseLimits
}

/** The application a request speaks for, and the user when it came with a user's v4 access token. */
export interface ClientContext {
  app: ApplicationRecord
  /** The application's v3 API key, as the caller presented it (directly or as the JWT's `aud`). */
  apiKey: string
  /** Set when the credential was a user's v4 access token. */
  user: { accountId: number; tokenIdHash: string; epoch: number } | null
}
