/** The username rules: ASCII only, so no two spellings that look alike can be two accounts. */
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/

/** The username rules in words, for refusals. */
export const USERNAME_RULES = 'the username must be 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit'

/**
 * The one form of a username that lookup, uniqueness and every login throttle key use: its lower
 * case. Null for a name no account can have (outside the rules), such as `\u212Aate` with the Kelvin
 * sign, which Unicode lower-cases to the `k` of `kate`: it must not reach an account, nor share or
 * split one's throttle budget.
 */
export function canonicalUsername(name: string): string | null {
  return USERNAME.test(name) ? name.toLowerCase() : null
}

/** The name the login throttle counts an attempt under: the canonical form, or as typed when there is none. */
export function throttledName(name: string): string {
  return canonicalUsername(name) ?? name
}
