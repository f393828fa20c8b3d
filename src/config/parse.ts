import { UsageError } from '../core/errors.js'

// Every setting is read through these, so every refusal reads the same: `NAME must be …, not "value"`
// (one line, exit 2 from the CLI). `name` is how the operator set it, e.g. `CINEPASS_PORT / --port`.

/** A setting as given: undefined or blank means "not set". */
export type Raw = string | undefined

function isUnset(raw: Raw): raw is undefined {
  return raw === undefined || raw.trim() === ''
}

function refuse(name: string, expected: string, raw: string): never {
  throw new UsageError(`${name} must be ${expected}, not "${raw}"`)
}

/** A whole number from `min` to `max`; `fallback` when unset. */
export function wholeNumber(name: string, raw: Raw, range: { min: number; max: number }, fallback: number): number {
  if (isUnset(raw)) return fallback
  const value = raw.trim()
  if (!/^\d+$/.test(value) || Number(value) < range.min || Number(value) > range.max) {
    refuse(name, `a whole number from ${range.min} to ${range.max}`, raw)
  }
  return Number(value)
}

// Ten years: long enough for any lifetime, short enough for timers and date arithmetic.
const LONGEST_DURATION_SECONDS = 10 * 365 * 24 * 3600

/** A duration given in whole seconds (at least `minSeconds`), returned in milliseconds; `fallbackMs` when unset. */
export function durationMs(name: string, raw: Raw, fallbackMs: number, minSeconds = 1): number {
  return wholeNumber(`${name} (seconds)`, raw, { min: minSeconds, max: LONGEST_DURATION_SECONDS }, fallbackMs / 1000) * 1000
}

/** One of `choices` (case-insensitive); `fallback` when unset. */
export function oneOf<T extends string>(name: string, raw: Raw, choices: readonly T[], fallback: T): T {
  if (isUnset(raw)) return fallback
  const value = raw.trim().toLowerCase()
  const choice = choices.find((candidate) => candidate === value)
  if (choice === undefined) refuse(name, listChoices(choices), raw)
  return choice
}

/** `on` or `off`; `fallback` when unset. */
export function onOff(name: string, raw: Raw, fallback: boolean): boolean {
  return oneOf(name, raw, ['on', 'off'], fallback ? 'on' : 'off') === 'on'
}

/** An http(s) URL, without trailing slashes. */
export function httpUrl(name: string, raw: string): string {
  const value = raw.trim().replace(/\/+$/, '')
  let url: URL | undefined
  try {
    url = new URL(value)
  } catch {
    url = undefined
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !/^https?:\/\/[^/]+/.test(value)) refuse(name, 'an http(s) URL', raw)
  return value
}

function listChoices(choices: readonly string[]): string {
  const quoted = choices.map((choice) => `"${choice}"`)
  return quoted.length <= 2 ? quoted.join(' or ') : `one of ${quoted.join(', ')}`
}
