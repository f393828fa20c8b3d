import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { temporarySqliteStore, testCore } from '../test-support/fixtures.js'
import { UsageError } from './errors.js'
import { PASSWORD_RULE, checkNewPassword, normalizePassword } from './password-rule.js'

describe('the password rule', () => {
  it('checkNewPassword() counts characters (code points) after NFKC, from 8 to 1024', () => {
    expect(() => checkNewPassword('')).toThrow('the password is empty')
    expect(() => checkNewPassword('seven77')).toThrow(`at least ${PASSWORD_RULE.minLength} characters`)
    expect(checkNewPassword('eight888')).toBe('eight888')
    // Seven emoji are 14 UTF-16 units but seven characters.
    expect(() => checkNewPassword('😀'.repeat(7))).toThrow(UsageError)
    expect(checkNewPassword('😀'.repeat(8))).toBe('😀'.repeat(8))
    expect(checkNewPassword('x'.repeat(1024))).toHaveLength(1024)
    expect(() => checkNewPassword('x'.repeat(1025))).toThrow(`at most ${PASSWORD_RULE.maxLength} characters`)
  })

  it('normalizePassword() makes composed, decomposed and full-width spellings one password', () => {
    expect(normalizePassword('cafe\u0301 au lait')).toBe('café au lait')
    expect(normalizePassword('ｐａｓｓｗｏｒｄ')).toBe('password')
  })
})

describe('the password rule in core', () => {
  let temp: ReturnType<typeof temporarySqliteStore>
  let core: ReturnType<typeof testCore>

  beforeAll(() => {
    temp = temporarySqliteStore()
    core = testCore(temp.store)
  })
  afterAll(async () => {
    await (temp as typeof temp | undefined)?.remove() // undefined when beforeAll failed before assigning it
  })

  it('createUser() and setUserPassword() (the CLI and fixtures) refuse a password the website refuses', async () => {
    await expect(core.admin.createUser({ username: 'shorty', password: 'abcde' })).rejects.toThrow('at least 8 characters')
    const user = await core.admin.createUser({ username: 'longer', password: 'abcdefgh' })
    await expect(core.admin.setUserPassword(user.username, 'abcde')).rejects.toThrow('at least 8 characters')
  })

  it('a password set in one Unicode form signs in when typed in another', async () => {
    await core.admin.createUser({ username: 'cafe_lover', password: 'cafe\u0301 au lait' })
    await expect(core.auth.verifyLogin('cafe_lover', 'café au lait')).resolves.toMatchObject({ username: 'cafe_lover' })
    await expect(core.auth.verifyLogin('cafe_lover', 'cafe au lait')).rejects.toMatchObject({ code: 'INVALID_LOGIN' })
  })

  it('an account hashed before normalisation signs in as typed once, and its hash is then of the normalised form', async () => {
    const account = await core.admin.createUser({ username: 'old_timer', password: 'placeholder' })
    const typed = 'ｗｉｄｅ password'
    await core.deps.store.setAccountPassword(account.id, await core.deps.hasher.hash(typed), false, core.clock.now())
    await expect(core.auth.verifyLogin('old_timer', typed)).resolves.toMatchObject({ id: account.id })
    const rehashed = (await core.deps.store.findAccountById(account.id))!.passwordHash
    expect(await core.deps.hasher.verify(rehashed, normalizePassword(typed))).toBe(true)
    expect(await core.deps.hasher.verify(rehashed, typed)).toBe(false)
  })
})
