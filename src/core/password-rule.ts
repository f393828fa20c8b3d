import { UsageError } from './errors.js'

/**
 * The one password rule of cinepass, for every way a password is set (the CLI, sign-up, the account
 * page, a reset link, test fixtures): a length in characters (Unicode code points) after NFKC
 * normalisation. No composition rules and no forced rotation (ASVS 6.2.5, 6.2.10).
 */
export const PASSWORD_RULE = { minLength: 8, maxLength: 1024 } as const

/** The rule in words, shown beside every field that sets a password, before the form is sent. */
export const PASSWORD_RULE_TEXT = `${PASSWORD_RULE.minLength} to ${PASSWORD_RULE.maxLength} characters; spaces and any letters or symbols are welcome.`

/**
 * The form of a password that is hashed and verified. NFKC, so that the same phrase typed on another
 * keyboard or system (composed or decomposed accents, full-width letters) is the same password.
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC')
}

/**
 * Checks a new password against the rule and returns the normalised form to hash; a `UsageError`
 * with one line for the form or the terminal otherwise.
 */
export function checkNewPassword(password: string): string {
  const normalized = normalizePassword(password)
  const length = [...normalized].length
  if (length === 0) throw new UsageError('the password is empty')
  if (length < PASSWORD_RULE.minLength) throw new UsageError(`the password must have at least ${PASSWORD_RULE.minLength} characters`)
  if (length > PASSWORD_RULE.maxLength) throw new UsageError(`the password must have at most ${PASSWORD_RULE.maxLength} characters`)
  return normalized
}
