import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AccountRecord, ApplicationRecord, Store, V4RequestTokenRecord } from '../core/store.js'

/**
 * The one contract every `Store` backend passes. A backend's test file only calls this with a
 * factory for a fresh, empty, migrated store (and its teardown).
 */
export function runStoreContract(name: string, factory: () => Promise<{ store: Store; teardown: () => Promise<void> }>): void {
  describe(`${name} store contract`, () => {
    let store: Store
    let teardown: () => Promise<void>
    let app: ApplicationRecord
    let otherApp: ApplicationRecord
    let alice: AccountRecord
    let bob: AccountRecord
    const now = Date.UTC(2026, 0, 1, 12)

    const hex = (bytes: number): string => randomBytes(bytes).toString('hex')
    const newApp = (): ApplicationRecord => ({
      id: hex(12),
      name: `app ${hex(2)}`,
      apiKeyHash: hex(32),
      suspended: false,
      createdAt: now,
      redirectOrigins: ['https://example.com'],
    })
    const newAccount = (username: string) => ({
      objectId: hex(12),
      username,
      name: username,
      email: `${username}@example.com`,
      language: 'en',
      country: 'US',
      includeAdult: false,
      passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
      createdAt: now,
    })
    const pendingToken = (appId = app.id, expiresAt = now + 3_600_000) => ({
      tokenHash: hex(32),
      appId,
      createdAt: now,
      expiresAt,
      status: 'pending' as const,
      accountId: null,
      consumedAt: null,
    })
    const newSession = () => ({ sessionHash: hex(32), appId: app.id, createdAt: now, expiresAt: null })

    beforeAll(async () => {
      ;({ store, teardown } = await factory())
      app = newApp()
      otherApp = newApp()
      await store.insertApplication(app)
      await store.insertApplication(otherApp)
      alice = (await store.insertAccount(newAccount(`alice_${hex(3)}`)))!
      bob = (await store.insertAccount(newAccount(`bob_${hex(3)}`)))!
    })

    afterAll(async () => {
      await teardown?.()
    })

    it('ping() resolves on a working database', async () => {
      await expect(store.ping()).resolves.toBeUndefined()
    })

    it('setMetaIfAbsent() lets exactly one of racing callers set a key', async () => {
      const key = `k_${hex(4)}`
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.setMetaIfAbsent(key, String(i))))
      expect(results.filter(Boolean)).toHaveLength(1)
      expect(await store.getMeta(key)).toBe(String(results.indexOf(true)))
      expect(await store.getMeta(`missing_${hex(4)}`)).toBeNull()
    })

    it('findApplicationByKeyHash() and findApplicationById() return the stored application', async () => {
      expect(await store.findApplicationByKeyHash(app.apiKeyHash)).toEqual(app)
      expect(await store.findApplicationById(app.id)).toEqual(app)
      expect(await store.findApplicationByKeyHash(hex(32))).toBeNull()
      expect((await store.listApplications()).map((a) => a.id)).toEqual(expect.arrayContaining([app.id, otherApp.id]))
    })

    it('setApplicationSuspended() flips the flag and reports unknown ids', async () => {
      const extra = newApp()
      await store.insertApplication(extra)
      expect(await store.setApplicationSuspended(extra.id, true)).toBe(true)
      expect((await store.findApplicationById(extra.id))?.suspended).toBe(true)
      expect(await store.setApplicationSuspended(extra.id, false)).toBe(true)
      expect((await store.findApplicationById(extra.id))?.suspended).toBe(false)
      expect(await store.setApplicationSuspended(hex(12), true)).toBe(false)
    })

    it('insertAccount() assigns increasing integer ids and refuses a taken username case-insensitively', async () => {
      const carol = await store.insertAccount(newAccount(`Carol_${hex(3)}`))
      expect(carol).not.toBeNull()
      expect(Number.isInteger(carol!.id)).toBe(true)
      expect(carol!.id).toBeGreaterThan(bob.id)
      expect(carol!.disabled).toBe(false)
      expect(await store.insertAccount(newAccount(carol!.username.toUpperCase()))).toBeNull()
      expect(await store.findAccountByUsername(carol!.username.toLowerCase())).toEqual(carol)
      expect(await store.findAccountById(carol!.id)).toEqual(carol)
      expect(await store.findAccountByObjectId(carol!.objectId)).toEqual(carol)
      expect(await store.findAccountById(999_999_999)).toBeNull()
    })

    it('findAccountById() callers of one moment each get their own account, or null', async () => {
      const ids = [alice.id, bob.id, 999_999_998, alice.id]
      const found = await Promise.all(ids.map((id) => store.findAccountById(id)))
      expect(found.map((account) => account?.username ?? null)).toEqual([alice.username, bob.username, null, alice.username])
    })

    it('approveRequestToken() binds a pending token to one account, again for the same one, never another', async () => {
      const token = pendingToken()
      await store.insertRequestToken(token)
      const approved = await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, now, appId: app.id })
      expect(approved).toMatchObject({ status: 'approved', accountId: alice.id, expiresAt: token.expiresAt })
      expect(await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, now, appId: app.id })).not.toBeNull()
      expect(await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: bob.id, now, appId: app.id })).toBeNull()
    })

    it('approveRequestToken() refuses an expired token, another application\'s and an unknown one', async () => {
      const token = pendingToken()
      await store.insertRequestToken(token)
      expect(await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, now: token.expiresAt, appId: app.id })).toBeNull()
      expect(await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, now, appId: otherApp.id })).toBeNull()
      expect(await store.approveRequestToken({ tokenHash: hex(32), accountId: alice.id, now })).toBeNull()
      expect(await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, now: token.expiresAt - 1 })).not.toBeNull()
    })

    it('approveRequestToken() lets exactly one of two racing accounts win', async () => {
      for (let round = 0; round < 20; round++) {
        const token = pendingToken()
        await store.insertRequestToken(token)
        const [a, b] = await Promise.all([
          store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, now }),
          store.approveRequestToken({ tokenHash: token.tokenHash, accountId: bob.id, now }),
        ])
        expect([a, b].filter((r) => r !== null)).toHaveLength(1)
        expect((await store.findRequestToken(token.tokenHash))?.accountId).toBe((a ?? b)!.accountId)
      }
    })

    it('denyRequestToken() denies a pending token only', async () => {
      const token = pendingToken()
      await store.insertRequestToken(token)
      expect(await store.denyRequestToken(token.tokenHash, now)).toMatchObject({ status: 'denied' })
      expect(await store.denyRequestToken(token.tokenHash, now)).toBeNull()
      expect(await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, now })).toBeNull()
    })

    it('approveRequestToken() with issued stores the row of a never-stored token, approved, and then guards it as a stored one', async () => {
      const { tokenHash, ...issued } = pendingToken()
      const input = { tokenHash, accountId: alice.id, now, appId: app.id, issued: { appId: issued.appId, createdAt: issued.createdAt, expiresAt: issued.expiresAt } }
      expect(await store.findRequestToken(tokenHash)).toBeNull()
      expect(await store.approveRequestToken(input)).toEqual({ tokenHash, ...input.issued, status: 'approved', accountId: alice.id, consumedAt: null })
      expect(await store.approveRequestToken(input)).toMatchObject({ status: 'approved', accountId: alice.id })
      expect(await store.approveRequestToken({ ...input, accountId: bob.id })).toBeNull()
      expect(await store.approveRequestToken({ ...input, appId: otherApp.id, issued: { ...input.issued, appId: otherApp.id } })).toBeNull()
      expect(await store.createSessionFromRequestToken(tokenHash, app.id, now, newSession())).toEqual({ ok: true, accountId: alice.id })
      expect(await store.approveRequestToken(input)).toBeNull()
      // Never a row for a token past its expiry.
      const expired = { ...input, tokenHash: hex(32) }
      expect(await store.approveRequestToken({ ...expired, now: input.issued.expiresAt })).toBeNull()
      expect(await store.findRequestToken(expired.tokenHash)).toBeNull()
    })

    it('denyRequestToken() with issued stores a never-stored token denied, and it stays dead', async () => {
      const { tokenHash, ...token } = pendingToken()
      const issued = { appId: token.appId, createdAt: token.createdAt, expiresAt: token.expiresAt }
      expect(await store.denyRequestToken(tokenHash, now, issued)).toMatchObject({ tokenHash, status: 'denied', accountId: null, expiresAt: issued.expiresAt })
      expect(await store.denyRequestToken(tokenHash, now, issued)).toBeNull()
      expect(await store.approveRequestToken({ tokenHash, accountId: alice.id, now, appId: app.id, issued })).toBeNull()
      expect(await store.createSessionFromRequestToken(tokenHash, app.id, now, newSession())).toEqual({ ok: false, reason: 'denied' })
      const expired = hex(32)
      expect(await store.denyRequestToken(expired, issued.expiresAt, issued)).toBeNull()
      expect(await store.findRequestToken(expired)).toBeNull()
    })

    it('racing approvals, denials and consumptions of a never-stored token: one decision wins, one session at most', async () => {
      for (let round = 0; round < 10; round++) {
        const { tokenHash, appId, createdAt, expiresAt } = pendingToken()
        const issued = { appId, createdAt, expiresAt }
        const sessions = Array.from({ length: 10 }, newSession)
        const [approvals, denials, consumptions] = await Promise.all([
          Promise.all(Array.from({ length: 20 }, (_, i) => store.approveRequestToken({ tokenHash, accountId: i % 2 ? alice.id : bob.id, now, appId: app.id, issued }))),
          Promise.all(Array.from({ length: round % 2 ? 5 : 0 }, () => store.denyRequestToken(tokenHash, now, issued))),
          Promise.all(sessions.map((session) => store.createSessionFromRequestToken(tokenHash, app.id, now, session))),
        ])
        const row = (await store.findRequestToken(tokenHash))!
        const winners = new Set([...approvals, ...denials].filter((r) => r !== null).map((r) => `${r!.status}:${r!.accountId}`))
        expect(winners, `round ${round}`).toEqual(new Set([`${row.status}:${row.accountId}`]))
        const consumed = consumptions.filter((r) => r.ok)
        expect(consumed.length).toBeLessThanOrEqual(1)
        for (const result of consumed) expect(result).toEqual({ ok: true, accountId: row.accountId })
        if (row.status === 'approved' && consumed.length === 0) {
          const late = await Promise.all(Array.from({ length: 5 }, () => store.createSessionFromRequestToken(tokenHash, app.id, now, newSession())))
          expect(late.filter((r) => r.ok)).toEqual([{ ok: true, accountId: row.accountId }])
        }
        const stored = await Promise.all(sessions.map((s) => store.findSession(s.sessionHash)))
        expect(stored.filter((s) => s !== null)).toHaveLength(consumed.length)
      }
    })

    it('racing approvals of a never-stored v4 token by two accounts: exactly one wins, and its token is consumed once', async () => {
      for (let round = 0; round < 10; round++) {
        const idHash = hex(32)
        const issued = { appId: app.id, createdAt: now, expiresAt: now + 900_000, redirectTo: 'https://example.com/cb' }
        const approvals = await Promise.all(Array.from({ length: 20 }, (_, i) => store.approveV4RequestToken(idHash, i % 2 ? alice.id : bob.id, now, issued)))
        const winners = new Set(approvals.filter((r) => r !== null).map((r) => r!.accountId))
        expect(winners.size, `round ${round}`).toBe(1)
        const [winner] = [...winners]
        expect(await store.findV4RequestToken(idHash)).toEqual({ idHash, ...issued, status: 'approved', accountId: winner, consumedAt: null })
        const results = await Promise.all(
          Array.from({ length: 10 }, () => store.createAccessTokenFromRequestToken(idHash, app.id, now, { idHash: hex(32), appId: app.id, createdAt: now, revokedAt: null })),
        )
        expect(results.filter((r) => r.ok)).toEqual([{ ok: true, accountId: winner }])
      }
      const denied = hex(32)
      const issued = { appId: app.id, createdAt: now, expiresAt: now + 900_000, redirectTo: null }
      expect(await store.denyV4RequestToken(denied, now, issued)).toMatchObject({ status: 'denied' })
      expect(await store.approveV4RequestToken(denied, alice.id, now, issued)).toBeNull()
      expect(await store.approveV4RequestToken(hex(32), alice.id, issued.expiresAt, issued)).toBeNull()
    })

    it('createSessionFromRequestToken() consumes an approved token once and stores the session', async () => {
      const token = pendingToken()
      await store.insertRequestToken(token)
      await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, now })
      const session = newSession()
      expect(await store.createSessionFromRequestToken(token.tokenHash, app.id, now, session)).toEqual({ ok: true, accountId: alice.id })
      expect(await store.findSession(session.sessionHash)).toEqual({ ...session, accountId: alice.id })
      expect((await store.findRequestToken(token.tokenHash))?.consumedAt).toBe(now)
      expect(await store.createSessionFromRequestToken(token.tokenHash, app.id, now, newSession())).toEqual({ ok: false, reason: 'invalid' })
    })

    it('createSessionFromRequestToken() tells pending and denied tokens from dead ones', async () => {
      const pending = pendingToken()
      await store.insertRequestToken(pending)
      expect(await store.createSessionFromRequestToken(pending.tokenHash, app.id, now, newSession())).toEqual({ ok: false, reason: 'pending' })
      expect(await store.createSessionFromRequestToken(pending.tokenHash, otherApp.id, now, newSession())).toEqual({ ok: false, reason: 'invalid' })
      expect(await store.createSessionFromRequestToken(pending.tokenHash, app.id, pending.expiresAt, newSession())).toEqual({ ok: false, reason: 'invalid' })
      const denied = pendingToken()
      await store.insertRequestToken(denied)
      await store.denyRequestToken(denied.tokenHash, now)
      expect(await store.createSessionFromRequestToken(denied.tokenHash, app.id, now, newSession())).toEqual({ ok: false, reason: 'denied' })
      expect(await store.createSessionFromRequestToken(hex(32), app.id, now, newSession())).toEqual({ ok: false, reason: 'invalid' })
    })

    it('createSessionFromRequestToken() refuses an approved token at its expiry and accepts it 1 ms before', async () => {
      const token = pendingToken()
      await store.insertRequestToken(token)
      await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, now })
      expect((await store.createSessionFromRequestToken(token.tokenHash, app.id, token.expiresAt, newSession())).ok).toBe(false)
      expect((await store.createSessionFromRequestToken(token.tokenHash, app.id, token.expiresAt - 1, newSession())).ok).toBe(true)
    })

    it('createSessionFromRequestToken() gives exactly one session to 50 racing callers', async () => {
      const token = pendingToken()
      await store.insertRequestToken(token)
      await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, now })
      const sessions = Array.from({ length: 50 }, newSession)
      const results = await Promise.all(sessions.map((s) => store.createSessionFromRequestToken(token.tokenHash, app.id, now, s)))
      expect(results.filter((r) => r.ok)).toHaveLength(1)
      const stored = await Promise.all(sessions.map((s) => store.findSession(s.sessionHash)))
      expect(stored.filter((s) => s !== null)).toHaveLength(1)
    })

    it('createSessionFromRequestToken() gives callers of one moment each their own outcome', async () => {
      const approved = async (accountId: number) => {
        const token = pendingToken()
        await store.insertRequestToken(token)
        await store.approveRequestToken({ tokenHash: token.tokenHash, accountId, now })
        return token.tokenHash
      }
      const [forAlice, forBob, sharedByApps, raced] = [await approved(alice.id), await approved(bob.id), await approved(alice.id), await approved(bob.id)]
      const pending = pendingToken()
      await store.insertRequestToken(pending)
      const denied = pendingToken()
      await store.insertRequestToken(denied)
      await store.denyRequestToken(denied.tokenHash, now)
      const expired = await approved(alice.id)
      const calls: [tokenHash: string, appId: string, at: number][] = [
        [forAlice, app.id, now],
        [pending.tokenHash, app.id, now],
        // Another application's caller first: it must not spend the token of the one that follows.
        [sharedByApps, otherApp.id, now],
        [sharedByApps, app.id, now],
        [forBob, app.id, now],
        [denied.tokenHash, app.id, now],
        [hex(32), app.id, now],
        [expired, app.id, now + 3_600_000],
        [raced, app.id, now],
        [raced, app.id, now],
      ]
      const sessions = calls.map(newSession)
      const results = await Promise.all(calls.map(([tokenHash, appId, at], i) => store.createSessionFromRequestToken(tokenHash, appId, at, { ...sessions[i]!, appId })))
      expect(results.slice(0, 8)).toEqual([
        { ok: true, accountId: alice.id },
        { ok: false, reason: 'pending' },
        { ok: false, reason: 'invalid' },
        { ok: true, accountId: alice.id },
        { ok: true, accountId: bob.id },
        { ok: false, reason: 'denied' },
        { ok: false, reason: 'invalid' },
        { ok: false, reason: 'invalid' },
      ])
      expect(results.slice(8).filter((r) => r.ok)).toEqual([{ ok: true, accountId: bob.id }])
      const stored = await Promise.all(sessions.map((s) => store.findSession(s.sessionHash)))
      expect(stored.map((s) => s?.accountId ?? null)).toEqual([alice.id, null, null, alice.id, bob.id, null, null, null, ...results.slice(8).map((r) => (r.ok ? bob.id : null))])
    })

    it('createSessionFromRequestToken() that fails in a moment of others fails alone, its token still unspent', async () => {
      const tokens = [pendingToken(), pendingToken(), pendingToken()]
      for (const token of tokens) {
        await store.insertRequestToken(token)
        await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, now })
      }
      // The second caller's session id collides with the first's: its insert must fail.
      const [first, third] = [newSession(), newSession()]
      const results = await Promise.allSettled([first, first, third].map((session, i) => store.createSessionFromRequestToken(tokens[i]!.tokenHash, app.id, now, session)))
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
      expect((await store.findRequestToken(tokens[1]!.tokenHash))?.consumedAt).toBeNull()
      expect(await store.findSession(third.sessionHash)).toMatchObject({ accountId: alice.id })
      expect(await store.createSessionFromRequestToken(tokens[1]!.tokenHash, app.id, now, newSession())).toEqual({ ok: true, accountId: alice.id })
    })

    it('findSessionWithAccount() returns the session with its account, and null once the session is gone', async () => {
      const session = { ...newSession(), accountId: bob.id, expiresAt: now + 1000 }
      await store.insertSession(session)
      expect(await store.findSessionWithAccount(session.sessionHash)).toEqual({ session, account: await store.findAccountById(bob.id) })
      expect(await store.findSessionWithAccount(hex(32))).toBeNull()
      await store.deleteSession(session.sessionHash, app.id)
      expect(await store.findSessionWithAccount(session.sessionHash)).toBeNull()
    })

    it('findSessionWithAccount() calls made in one moment each get their own session and account, repeated and unknown ones included', async () => {
      // More than one batch's worth (MAX_BATCH_ROWS), of two accounts.
      const sessions = Array.from({ length: 700 }, (_, i) => ({ ...newSession(), accountId: i % 2 === 0 ? alice.id : bob.id }))
      await Promise.all(sessions.map((session) => store.insertSession(session)))
      const accounts = { [alice.id]: await store.findAccountById(alice.id), [bob.id]: await store.findAccountById(bob.id) }
      const asked = [...sessions.map((session) => session.sessionHash), sessions[3]!.sessionHash, hex(32)]
      const found = await Promise.all(asked.map((hash) => store.findSessionWithAccount(hash)))
      sessions.forEach((session, i) => expect(found[i]).toEqual({ session, account: accounts[session.accountId] }))
      expect(found[700]).toEqual({ session: sessions[3], account: bob })
      expect(found[701]).toBeNull()
    })

    it('close() answers the session checks still waiting', async () => {
      const own = await factory()
      try {
        const ownApp = newApp()
        await own.store.insertApplication(ownApp)
        const account = (await own.store.insertAccount(newAccount(`carol_${hex(3)}`)))!
        const session = { ...newSession(), appId: ownApp.id, accountId: account.id }
        await own.store.insertSession(session)
        const checks = [own.store.findSessionWithAccount(session.sessionHash), own.store.findSessionWithAccount(hex(32))]
        await own.store.close()
        expect(await Promise.all(checks)).toEqual([{ session, account }, null])
      } finally {
        await own.teardown()
      }
    })

    it('deleteSession() deletes only the application\'s own session, once', async () => {
      const session = { ...newSession(), accountId: alice.id }
      await store.insertSession(session)
      expect(await store.deleteSession(session.sessionHash, otherApp.id)).toBe(false)
      expect(await store.deleteSession(session.sessionHash, app.id)).toBe(true)
      expect(await store.deleteSession(session.sessionHash, app.id)).toBe(false)
      expect(await store.findSession(session.sessionHash)).toBeNull()
    })

    it('deleteSession() callers of one moment each get their own answer, and a session is deleted once', async () => {
      const [own, shared, raced, kept] = Array.from({ length: 4 }, () => ({ ...newSession(), accountId: alice.id }))
      for (const session of [own!, shared!, raced!, kept!]) await store.insertSession(session)
      const calls: [sessionHash: string, appId: string][] = [
        [own!.sessionHash, app.id],
        // Another application's caller first: it must not delete the session of the one that follows.
        [shared!.sessionHash, otherApp.id],
        [shared!.sessionHash, app.id],
        [hex(32), app.id],
        [kept!.sessionHash, otherApp.id],
        [raced!.sessionHash, app.id],
        [raced!.sessionHash, app.id],
      ]
      const results = await Promise.all(calls.map(([sessionHash, appId]) => store.deleteSession(sessionHash, appId)))
      expect(results.slice(0, 5)).toEqual([true, false, true, false, false])
      expect(results.slice(5).filter(Boolean)).toHaveLength(1)
      expect(await Promise.all([own!, shared!, raced!, kept!].map((s) => store.findSession(s.sessionHash).then((found) => found !== null)))).toEqual([false, false, false, true])
    })

    it('guest sessions are stored and found by hash', async () => {
      const guest = { sessionHash: hex(32), appId: app.id, createdAt: now, expiresAt: now + 86_400_000 }
      await store.insertGuestSession(guest)
      expect(await store.findGuestSession(guest.sessionHash)).toEqual(guest)
      expect(await store.findGuestSession(hex(32))).toBeNull()
    })

    it('setAccountDisabled() ends every session, website session and access token of the account', async () => {
      const dave = (await store.insertAccount(newAccount(`dave_${hex(3)}`)))!
      const session = { ...newSession(), accountId: dave.id }
      await store.insertSession(session)
      const web = { sessionHash: hex(32), accountId: dave.id, createdAt: now, expiresAt: now + 1000 }
      await store.insertWebSession(web)
      const v4 = { idHash: hex(32), appId: app.id, createdAt: now, expiresAt: now + 900_000, redirectTo: null, status: 'pending' as const, accountId: null, consumedAt: null }
      await store.insertV4RequestToken(v4)
      await store.approveV4RequestToken(v4.idHash, dave.id, now)
      const access = { idHash: hex(32), appId: app.id, createdAt: now, revokedAt: null }
      expect(await store.createAccessTokenFromRequestToken(v4.idHash, app.id, now, access)).toEqual({ ok: true, accountId: dave.id })
      expect(await store.setAccountDisabled(dave.id, true, now + 5)).toBe(true)
      expect((await store.findAccountById(dave.id))?.disabled).toBe(true)
      expect(await store.findSession(session.sessionHash)).toBeNull()
      expect(await store.findWebSession(web.sessionHash)).toBeNull()
      expect((await store.findAccessToken(access.idHash))?.revokedAt).toBe(now + 5)
      expect(await store.setAccountDisabled(dave.id, false, now)).toBe(true)
      expect(await store.setAccountDisabled(999_999_999, true, now)).toBe(false)
    })

    it('setAccountPassword() replaces the hash and, when asked, ends the sessions', async () => {
      const erin = (await store.insertAccount(newAccount(`erin_${hex(3)}`)))!
      const kept = { ...newSession(), accountId: erin.id }
      await store.insertSession(kept)
      expect(await store.setAccountPassword(erin.id, 'hash-2', false, now)).toBe(true)
      expect(await store.findSession(kept.sessionHash)).not.toBeNull()
      expect(await store.setAccountPassword(erin.id, 'hash-3', true, now)).toBe(true)
      expect(await store.findSession(kept.sessionHash)).toBeNull()
      expect((await store.findAccountById(erin.id))?.passwordHash).toBe('hash-3')
    })

    it('setAccountPassword() with an expected hash replaces it only while it is still that one, keeping the sessions', async () => {
      const gina = (await store.insertAccount(newAccount(`gina_${hex(3)}`)))!
      const kept = { ...newSession(), accountId: gina.id }
      await store.insertSession(kept)
      expect(await store.setAccountPassword(gina.id, 'rehashed', false, now, gina.passwordHash)).toBe(true)
      expect((await store.findAccountById(gina.id))?.passwordHash).toBe('rehashed')
      expect(await store.findSession(kept.sessionHash)).not.toBeNull()
      // The stored hash changed meanwhile (an admin's new password): the stale rehash is refused.
      expect(await store.setAccountPassword(gina.id, 'stale', false, now, gina.passwordHash)).toBe(false)
      expect((await store.findAccountById(gina.id))?.passwordHash).toBe('rehashed')
      expect(await store.setAccountPassword(999_999_999, 'x', false, now, 'rehashed')).toBe(false)
    })

    it('setAccountPassword(endSessions) and setAccountDisabled() deny approved, unconsumed v3 and v4 request tokens of the account only', async () => {
      const approvedTokens = async (accountId: number) => {
        const v3 = pendingToken()
        await store.insertRequestToken(v3)
        await store.approveRequestToken({ tokenHash: v3.tokenHash, accountId, now, appId: app.id })
        const v4 = { idHash: hex(32), appId: app.id, createdAt: now, expiresAt: now + 900_000, redirectTo: null, status: 'pending' as const, accountId: null, consumedAt: null }
        await store.insertV4RequestToken(v4)
        await store.approveV4RequestToken(v4.idHash, accountId, now)
        return { v3: v3.tokenHash, v4: v4.idHash }
      }
      const newAccessToken = () => ({ idHash: hex(32), appId: app.id, createdAt: now, revokedAt: null })
      const expectEnded = async (tokens: { v3: string; v4: string }) => {
        expect(await store.createSessionFromRequestToken(tokens.v3, app.id, now, newSession())).toEqual({ ok: false, reason: 'denied' })
        expect(await store.createAccessTokenFromRequestToken(tokens.v4, app.id, now, newAccessToken())).toEqual({ ok: false, reason: 'denied' })
        expect(await store.findRequestToken(tokens.v3)).toMatchObject({ status: 'denied', consumedAt: null })
        expect(await store.findV4RequestToken(tokens.v4)).toMatchObject({ status: 'denied', consumedAt: null })
      }
      const frank = (await store.insertAccount(newAccount(`frank_${hex(3)}`)))!
      const bystander = await approvedTokens(alice.id)

      const keptByPlainChange = await approvedTokens(frank.id)
      expect(await store.setAccountPassword(frank.id, 'hash-2', false, now)).toBe(true)
      expect(await store.findRequestToken(keptByPlainChange.v3)).toMatchObject({ status: 'approved' })
      expect(await store.findV4RequestToken(keptByPlainChange.v4)).toMatchObject({ status: 'approved' })

      const pending = pendingToken()
      await store.insertRequestToken(pending)
      expect(await store.setAccountPassword(frank.id, 'hash-3', true, now)).toBe(true)
      await expectEnded(keptByPlainChange)
      expect(await store.findRequestToken(pending.tokenHash)).toMatchObject({ status: 'pending' })
      // A new token approved after the change works: only what existed at the change ended.
      const afterChange = await approvedTokens(frank.id)
      expect((await store.createSessionFromRequestToken(afterChange.v3, app.id, now, newSession())).ok).toBe(true)

      const beforeDisable = await approvedTokens(frank.id)
      expect(await store.setAccountDisabled(frank.id, true, now)).toBe(true)
      await expectEnded(beforeDisable)
      // A token consumed before the change stays consumed: its session ended with the others.
      expect(await store.findRequestToken(afterChange.v3)).toMatchObject({ status: 'approved', consumedAt: now })

      expect((await store.createSessionFromRequestToken(bystander.v3, app.id, now, newSession())).ok).toBe(true)
      expect((await store.createAccessTokenFromRequestToken(bystander.v4, app.id, now, newAccessToken())).ok).toBe(true)
    })

    it('createAccessTokenFromRequestToken() consumes an approved v4 token exactly once under a race', async () => {
      const v4 = { idHash: hex(32), appId: app.id, createdAt: now, expiresAt: now + 900_000, redirectTo: 'https://example.com/cb', status: 'pending' as const, accountId: null, consumedAt: null }
      await store.insertV4RequestToken(v4)
      expect(await store.findV4RequestToken(v4.idHash)).toEqual(v4)
      expect(await store.createAccessTokenFromRequestToken(v4.idHash, app.id, now, { idHash: hex(32), appId: app.id, createdAt: now, revokedAt: null })).toEqual({
        ok: false,
        reason: 'pending',
      })
      expect(await store.approveV4RequestToken(v4.idHash, bob.id, now)).toMatchObject({ status: 'approved', accountId: bob.id })
      const accessTokens = Array.from({ length: 30 }, () => ({ idHash: hex(32), appId: app.id, createdAt: now, revokedAt: null }))
      const results = await Promise.all(accessTokens.map((a) => store.createAccessTokenFromRequestToken(v4.idHash, app.id, now, a)))
      expect(results.filter((r) => r.ok)).toHaveLength(1)
      const winner = accessTokens[results.findIndex((r) => r.ok)]!
      expect(await store.findAccessToken(winner.idHash)).toEqual({ ...winner, accountId: bob.id })
      expect(await store.revokeAccessToken(winner.idHash, otherApp.id, now)).toBe(false)
      expect(await store.revokeAccessToken(winner.idHash, app.id, now)).toBe(true)
      expect(await store.revokeAccessToken(winner.idHash, app.id, now)).toBe(false)
    })

    it('denyV4RequestToken() makes a pending v4 token refuse consumption as denied', async () => {
      const v4 = { idHash: hex(32), appId: app.id, createdAt: now, expiresAt: now + 900_000, redirectTo: null, status: 'pending' as const, accountId: null, consumedAt: null }
      await store.insertV4RequestToken(v4)
      expect(await store.denyV4RequestToken(v4.idHash, now)).toMatchObject({ status: 'denied' })
      expect(await store.createAccessTokenFromRequestToken(v4.idHash, app.id, now, { idHash: hex(32), appId: app.id, createdAt: now, revokedAt: null })).toEqual({
        ok: false,
        reason: 'denied',
      })
    })

    it('signing keys are listed oldest first and retire once', async () => {
      const first = { kid: hex(8), secret: hex(32), createdAt: now, retiredAt: null }
      const second = { kid: hex(8), secret: hex(32), createdAt: now + 1, retiredAt: null }
      await store.insertSigningKey(first)
      await store.insertSigningKey(second)
      const kids = (await store.listSigningKeys()).map((k) => k.kid)
      expect(kids.indexOf(first.kid)).toBeLessThan(kids.indexOf(second.kid))
      expect(await store.retireSigningKey(first.kid, now + 2)).toBe(true)
      expect(await store.retireSigningKey(first.kid, now + 3)).toBe(false)
      expect((await store.listSigningKeys()).find((k) => k.kid === first.kid)?.retiredAt).toBe(now + 2)
    })

    it('website sessions are stored, found and deleted', async () => {
      const web = { sessionHash: hex(32), accountId: alice.id, createdAt: now, expiresAt: now + 1000 }
      await store.insertWebSession(web)
      expect(await store.findWebSession(web.sessionHash)).toEqual(web)
      await store.deleteWebSession(web.sessionHash)
      expect(await store.findWebSession(web.sessionHash)).toBeNull()
    })

    it('writes racing in one moment each get their own result, and one that fails leaves the others committed', async () => {
      const tokens = Array.from({ length: 20 }, () => pendingToken())
      const duplicate = tokens[3]!
      const results = await Promise.allSettled([...tokens, duplicate].map((token) => store.insertRequestToken(token)))
      expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1)
      for (const token of tokens) expect(await store.findRequestToken(token.tokenHash)).toMatchObject({ tokenHash: token.tokenHash, status: 'pending' })
      // A consumption racing with its own token's approval and with other writes is still exactly-once.
      const approved = pendingToken()
      await store.insertRequestToken(approved)
      await store.approveRequestToken({ tokenHash: approved.tokenHash, accountId: alice.id, now })
      const consumed = await Promise.all(Array.from({ length: 5 }, () => store.createSessionFromRequestToken(approved.tokenHash, app.id, now, newSession())))
      expect(consumed.filter((r) => r.ok)).toHaveLength(1)
    })

    it('countLive() counts usable request tokens, sessions, guest sessions and access tokens only', async () => {
      const at = now + 5_000_000
      const before = await store.countLive(at)
      await store.insertRequestToken(pendingToken(app.id, at + 1))
      await store.insertRequestToken(pendingToken(app.id, at))
      const consumed = pendingToken(app.id, at + 1)
      await store.insertRequestToken(consumed)
      await store.approveRequestToken({ tokenHash: consumed.tokenHash, accountId: alice.id, now })
      await store.createSessionFromRequestToken(consumed.tokenHash, app.id, now, { ...newSession(), expiresAt: at + 1 })
      await store.insertSession({ ...newSession(), accountId: alice.id, expiresAt: at })
      await store.insertSession({ ...newSession(), accountId: alice.id })
      await store.insertGuestSession({ sessionHash: hex(32), appId: app.id, createdAt: now, expiresAt: at + 1 })
      await store.insertGuestSession({ sessionHash: hex(32), appId: app.id, createdAt: now, expiresAt: at })
      const v4 = (): V4RequestTokenRecord => ({ idHash: hex(32), appId: app.id, createdAt: now, expiresAt: at + 1, redirectTo: null, status: 'pending', accountId: null, consumedAt: null })
      const issued: string[] = []
      for (let i = 0; i < 2; i++) {
        const token = v4()
        await store.insertV4RequestToken(token)
        await store.approveV4RequestToken(token.idHash, alice.id, now)
        const idHash = hex(32)
        await store.createAccessTokenFromRequestToken(token.idHash, app.id, now, { idHash, appId: app.id, createdAt: now, revokedAt: null })
        issued.push(idHash)
      }
      await store.revokeAccessToken(issued[0]!, app.id, now)
      const after = await store.countLive(at)
      expect({
        requestTokens: after.requestTokens - before.requestTokens,
        sessions: after.sessions - before.sessions,
        guestSessions: after.guestSessions - before.guestSessions,
        accessTokens: after.accessTokens - before.accessTokens,
      }).toEqual({ requestTokens: 1, sessions: 2, guestSessions: 1, accessTokens: 1 })
    })

    it('purgeExpired() deletes only dead rows, in batches no larger than asked', async () => {
      const later = now + 10_000_000
      const dead = Array.from({ length: 5 }, () => pendingToken(app.id, now + 1))
      const live = pendingToken(app.id, later + 1)
      for (const token of dead) await store.insertRequestToken(token)
      await store.insertRequestToken(live)
      const deadGuest = { sessionHash: hex(32), appId: app.id, createdAt: now, expiresAt: now + 1 }
      await store.insertGuestSession(deadGuest)
      const forever = { ...newSession(), accountId: alice.id }
      await store.insertSession(forever)
      expect(await store.purgeExpired(later, 2)).toBe(2)
      let total = 2
      for (let batch = await store.purgeExpired(later, 2); batch > 0; batch = await store.purgeExpired(later, 2)) {
        expect(batch).toBeLessThanOrEqual(2)
        total += batch
      }
      expect(total).toBeGreaterThanOrEqual(6)
      for (const token of dead) expect(await store.findRequestToken(token.tokenHash)).toBeNull()
      expect(await store.findGuestSession(deadGuest.sessionHash)).toBeNull()
      expect(await store.findRequestToken(live.tokenHash)).not.toBeNull()
      expect(await store.findSession(forever.sessionHash)).not.toBeNull()
    })

    it('exportAll() and replaceAll() copy every table into a fresh store, where new account ids continue after the copied ones', async () => {
      const { store: target, teardown: dropTarget } = await factory()
      try {
        expect(await target.isEmpty()).toBe(true)
        expect(await store.isEmpty()).toBe(false)
        // At least one row in every table, whatever ran before.
        await store.setMetaIfAbsent(`copy_${hex(4)}`, 'yes')
        const token = pendingToken()
        await store.insertRequestToken(token)
        await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, now })
        const session = newSession()
        await store.createSessionFromRequestToken(token.tokenHash, app.id, now, session)
        await store.insertGuestSession({ sessionHash: hex(32), appId: app.id, createdAt: now, expiresAt: now + 1 })
        const v4 = { idHash: hex(32), appId: app.id, createdAt: now, expiresAt: now + 900_000, redirectTo: null, status: 'pending' as const, accountId: null, consumedAt: null }
        await store.insertV4RequestToken(v4)
        await store.approveV4RequestToken(v4.idHash, bob.id, now)
        await store.createAccessTokenFromRequestToken(v4.idHash, app.id, now, { idHash: hex(32), appId: app.id, createdAt: now, revokedAt: null })
        await store.insertSigningKey({ kid: hex(8), secret: hex(32), createdAt: now, retiredAt: now + 1 })
        await store.insertWebSession({ sessionHash: hex(32), accountId: bob.id, createdAt: now, expiresAt: now + 1000 })
        await store.setApplicationSuspended(otherApp.id, true)

        const snapshot = await store.exportAll()
        for (const [table, rows] of Object.entries(snapshot)) expect(rows.length, table).toBeGreaterThan(0)
        await target.replaceAll(snapshot)
        expect(await target.exportAll()).toEqual(snapshot)
        expect(await target.isEmpty()).toBe(false)
        expect(await target.findSession(session.sessionHash)).toEqual({ ...session, accountId: alice.id })
        const next = await target.insertAccount(newAccount(`next_${hex(3)}`))
        expect(next!.id).toBeGreaterThan(Math.max(...snapshot.accounts.map((account) => account.id)))

        // Replacing means replacing: an empty snapshot leaves an empty store.
        const empty = Object.fromEntries(Object.keys(snapshot).map((table) => [table, []])) as unknown as typeof snapshot
        await target.replaceAll(empty)
        expect(await target.isEmpty()).toBe(true)
      } finally {
        await dropTarget()
      }
    })

    it('replaceAll() changes nothing when a row is refused', async () => {
      const { store: target, teardown: dropTarget } = await factory()
      try {
        const before = await store.exportAll()
        await target.replaceAll(before)
        const orphan = { sessionHash: hex(32), appId: app.id, accountId: 987_654_321, createdAt: now, expiresAt: null }
        await expect(target.replaceAll({ ...before, accounts: [], sessions: [orphan] })).rejects.toThrow()
        expect(await target.exportAll()).toEqual(before)
      } finally {
        await dropTarget()
      }
    })
  })
}
