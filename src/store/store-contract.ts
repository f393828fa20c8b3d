import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AccountRecord, ApplicationRecord, Store, V4RequestTokenRecord } from '../core/store.js'
import { pendingRequestTokenRow, pendingV4RequestTokenRow } from '../test-support/records.js'

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
    const pendingToken = (appId = app.id, expiresAt = now + 3_600_000) => pendingRequestTokenRow(appId, now, { expiresAt })
    const pendingV4Token = (fields: { appId?: string; redirectTo?: string | null } = {}) =>
      pendingV4RequestTokenRow(fields.appId ?? app.id, now, { redirectTo: fields.redirectTo ?? null })
    const newSession = () => ({ sessionHash: hex(32), appId: app.id, createdAt: now, expiresAt: null as number | null, epoch: 0, accessTokenIdHash: null })

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
      await (teardown as typeof teardown | undefined)?.() // undefined when beforeAll failed before assigning it
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
      const approved = await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, epoch: alice.epoch, now, appId: app.id })
      expect(approved).toMatchObject({ status: 'approved', accountId: alice.id, expiresAt: token.expiresAt })
      expect(await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, epoch: alice.epoch, now, appId: app.id })).not.toBeNull()
      expect(await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: bob.id, epoch: bob.epoch, now, appId: app.id })).toBeNull()
    })

    it("approveRequestToken() refuses an expired token, another application's and an unknown one", async () => {
      const token = pendingToken()
      await store.insertRequestToken(token)
      expect(
        await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, epoch: alice.epoch, now: token.expiresAt, appId: app.id }),
      ).toBeNull()
      expect(await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, epoch: alice.epoch, now, appId: otherApp.id })).toBeNull()
      expect(await store.approveRequestToken({ tokenHash: hex(32), accountId: alice.id, epoch: alice.epoch, now })).toBeNull()
      expect(await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, epoch: alice.epoch, now: token.expiresAt - 1 })).not.toBeNull()
    })

    it('approveRequestToken() lets exactly one of two racing accounts win', async () => {
      for (let round = 0; round < 20; round++) {
        const token = pendingToken()
        await store.insertRequestToken(token)
        const [a, b] = await Promise.all([
          store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, epoch: alice.epoch, now }),
          store.approveRequestToken({ tokenHash: token.tokenHash, accountId: bob.id, epoch: bob.epoch, now }),
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
      expect(await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, epoch: alice.epoch, now })).toBeNull()
    })

    it('approveRequestToken() with issued stores the row of a never-stored token, approved, and then guards it as a stored one', async () => {
      const { tokenHash, ...issued } = pendingToken()
      const input = {
        tokenHash,
        accountId: alice.id,
        epoch: alice.epoch,
        now,
        appId: app.id,
        issued: { appId: issued.appId, createdAt: issued.createdAt, expiresAt: issued.expiresAt },
      }
      expect(await store.findRequestToken(tokenHash)).toBeNull()
      expect(await store.approveRequestToken(input)).toEqual({
        tokenHash,
        ...input.issued,
        status: 'approved',
        accountId: alice.id,
        consumedAt: null,
        epoch: alice.epoch,
      })
      expect(await store.approveRequestToken(input)).toMatchObject({ status: 'approved', accountId: alice.id })
      expect(await store.approveRequestToken({ ...input, accountId: bob.id, epoch: bob.epoch })).toBeNull()
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
      expect(await store.approveRequestToken({ tokenHash, accountId: alice.id, epoch: alice.epoch, now, appId: app.id, issued })).toBeNull()
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
          Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              store.approveRequestToken({
                tokenHash,
                ...(i % 2 ? { accountId: alice.id, epoch: alice.epoch } : { accountId: bob.id, epoch: bob.epoch }),
                now,
                appId: app.id,
                issued,
              }),
            ),
          ),
          Promise.all(Array.from({ length: round % 2 ? 5 : 0 }, () => store.denyRequestToken(tokenHash, now, issued))),
          Promise.all(sessions.map((session) => store.createSessionFromRequestToken(tokenHash, app.id, now, session))),
        ])
        const row = (await store.findRequestToken(tokenHash))!
        const winners = new Set([...approvals, ...denials].filter((r) => r !== null).map((r) => `${r.status}:${r.accountId}`))
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
        const approvals = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            i % 2
              ? store.approveV4RequestToken(idHash, alice.id, now, alice.epoch, issued)
              : store.approveV4RequestToken(idHash, bob.id, now, bob.epoch, issued),
          ),
        )
        const winners = new Set(approvals.filter((r) => r !== null).map((r) => r.accountId))
        expect(winners.size, `round ${round}`).toBe(1)
        const [winner] = [...winners]
        expect(await store.findV4RequestToken(idHash)).toEqual({
          idHash,
          ...issued,
          status: 'approved',
          accountId: winner,
          consumedAt: null,
          epoch: winner === alice.id ? alice.epoch : bob.epoch,
        })
        const results = await Promise.all(
          Array.from({ length: 10 }, () =>
            store.createAccessTokenFromRequestToken(idHash, app.id, now, { idHash: hex(32), appId: app.id, createdAt: now, revokedAt: null }),
          ),
        )
        expect(results.filter((r) => r.ok)).toEqual([{ ok: true, accountId: winner }])
      }
      const denied = hex(32)
      const issued = { appId: app.id, createdAt: now, expiresAt: now + 900_000, redirectTo: null }
      expect(await store.denyV4RequestToken(denied, now, issued)).toMatchObject({ status: 'denied' })
      expect(await store.approveV4RequestToken(denied, alice.id, now, alice.epoch, issued)).toBeNull()
      expect(await store.approveV4RequestToken(hex(32), alice.id, issued.expiresAt, alice.epoch, issued)).toBeNull()
    })

    it('createSessionFromRequestToken() consumes an approved token once and stores the session', async () => {
      const token = pendingToken()
      await store.insertRequestToken(token)
      await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, epoch: alice.epoch, now })
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
      await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, epoch: alice.epoch, now })
      expect((await store.createSessionFromRequestToken(token.tokenHash, app.id, token.expiresAt, newSession())).ok).toBe(false)
      expect((await store.createSessionFromRequestToken(token.tokenHash, app.id, token.expiresAt - 1, newSession())).ok).toBe(true)
    })

    it('createSessionFromRequestToken() gives exactly one session to 50 racing callers', async () => {
      const token = pendingToken()
      await store.insertRequestToken(token)
      await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, epoch: alice.epoch, now })
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
        await store.approveRequestToken({ tokenHash: token.tokenHash, accountId, epoch: 0, now })
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
      const results = await Promise.all(
        calls.map(([tokenHash, appId, at], i) => store.createSessionFromRequestToken(tokenHash, appId, at, { ...sessions[i]!, appId })),
      )
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
      expect(stored.map((s) => s?.accountId ?? null)).toEqual([
        alice.id,
        null,
        null,
        alice.id,
        bob.id,
        null,
        null,
        null,
        ...results.slice(8).map((r) => (r.ok ? bob.id : null)),
      ])
    })

    it('createSessionFromRequestToken() that fails in a moment of others fails alone, its token still unspent', async () => {
      const tokens = [pendingToken(), pendingToken(), pendingToken()]
      for (const token of tokens) {
        await store.insertRequestToken(token)
        await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, epoch: alice.epoch, now })
      }
      // The second caller's session id collides with the first's: its insert must fail.
      const [first, third] = [newSession(), newSession()]
      const results = await Promise.allSettled(
        [first, first, third].map((session, i) => store.createSessionFromRequestToken(tokens[i]!.tokenHash, app.id, now, session)),
      )
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

    it("deleteSession() deletes only the application's own session, once", async () => {
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
      expect(await Promise.all([own!, shared!, raced!, kept!].map((s) => store.findSession(s.sessionHash).then((found) => found !== null)))).toEqual([
        false,
        false,
        false,
        true,
      ])
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
      const web = { sessionHash: hex(32), accountId: dave.id, createdAt: now, expiresAt: now + 1000, epoch: dave.epoch }
      await store.insertWebSession(web)
      const v4 = pendingV4Token()
      await store.insertV4RequestToken(v4)
      await store.approveV4RequestToken(v4.idHash, dave.id, now, dave.epoch)
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

    /** One of everything an application and an account can have, made through the store's own steps. */
    const everythingOf = async (owner: ApplicationRecord, account: AccountRecord) => {
      const { epoch } = (await store.findAccountById(account.id))!
      const session = { sessionHash: hex(32), appId: owner.id, accountId: account.id, createdAt: now, expiresAt: null, epoch, accessTokenIdHash: null }
      await store.insertSession(session)
      const guest = { sessionHash: hex(32), appId: owner.id, createdAt: now, expiresAt: now + 86_400_000 }
      await store.insertGuestSession(guest)
      const web = { sessionHash: hex(32), accountId: account.id, createdAt: now, expiresAt: now + 1000, epoch }
      expect(await store.insertWebSession(web)).toBe(true)
      const approved = pendingToken(owner.id)
      await store.insertRequestToken(approved)
      expect(await store.approveRequestToken({ tokenHash: approved.tokenHash, accountId: account.id, epoch, now })).not.toBeNull()
      const pending = pendingToken(owner.id)
      await store.insertRequestToken(pending)
      const v4Token = (): V4RequestTokenRecord => ({
        idHash: hex(32),
        appId: owner.id,
        createdAt: now,
        expiresAt: now + 900_000,
        redirectTo: null,
        status: 'pending',
        accountId: null,
        consumedAt: null,
        epoch: null,
      })
      const consumed = v4Token()
      await store.insertV4RequestToken(consumed)
      expect(await store.approveV4RequestToken(consumed.idHash, account.id, now, epoch)).not.toBeNull()
      const access = { idHash: hex(32), appId: owner.id, createdAt: now, revokedAt: null }
      expect(await store.createAccessTokenFromRequestToken(consumed.idHash, owner.id, now, access)).toEqual({ ok: true, accountId: account.id })
      const v4Pending = v4Token()
      await store.insertV4RequestToken(v4Pending)
      return {
        /** Which of them are still stored. */
        left: async () => ({
          session: (await store.findSession(session.sessionHash)) !== null,
          guest: (await store.findGuestSession(guest.sessionHash)) !== null,
          web: (await store.findWebSession(web.sessionHash)) !== null,
          approved: (await store.findRequestToken(approved.tokenHash)) !== null,
          pending: (await store.findRequestToken(pending.tokenHash)) !== null,
          v4Consumed: (await store.findV4RequestToken(consumed.idHash)) !== null,
          v4Pending: (await store.findV4RequestToken(v4Pending.idHash)) !== null,
          access: (await store.findAccessToken(access.idHash)) !== null,
        }),
      }
    }
    const ALL_LEFT = { session: true, guest: true, web: true, approved: true, pending: true, v4Consumed: true, v4Pending: true, access: true }

    it('setApplicationKeyHash() replaces the key, keeping the application and its sessions, and reports unknown ids', async () => {
      const rotating = newApp()
      await store.insertApplication(rotating)
      const held = await everythingOf(rotating, alice)
      const newHash = hex(32)
      expect(await store.setApplicationKeyHash(rotating.id, newHash)).toBe(true)
      expect(await store.findApplicationByKeyHash(rotating.apiKeyHash)).toBeNull()
      expect(await store.findApplicationByKeyHash(newHash)).toEqual({ ...rotating, apiKeyHash: newHash })
      expect(await held.left()).toEqual(ALL_LEFT)
      expect(await store.setApplicationKeyHash(hex(12), hex(32))).toBe(false)
    })

    it('deleteApplication() deletes the application with every row of it, and nothing of another', async () => {
      const doomed = newApp()
      await store.insertApplication(doomed)
      const carol = (await store.insertAccount(newAccount(`carol_${hex(3)}`)))!
      const gone = await everythingOf(doomed, carol)
      const kept = await everythingOf(app, carol)
      expect(await store.deleteApplication(doomed.id)).toBe(true)
      expect(await store.findApplicationById(doomed.id)).toBeNull()
      expect(await store.findApplicationByKeyHash(doomed.apiKeyHash)).toBeNull()
      expect((await store.listApplications()).map((a) => a.id)).not.toContain(doomed.id)
      // Website sessions belong to the account, not to an application.
      expect(await gone.left()).toEqual({
        session: false,
        guest: false,
        web: true,
        approved: false,
        pending: false,
        v4Consumed: false,
        v4Pending: false,
        access: false,
      })
      expect(await kept.left()).toEqual(ALL_LEFT)
      expect(await store.findAccountById(carol.id)).not.toBeNull()
      expect(await store.deleteApplication(doomed.id)).toBe(false)
    })

    it('deleteAccount() deletes the account with every row of it, nothing of another, and frees the username', async () => {
      const hank = (await store.insertAccount(newAccount(`hank_${hex(3)}`)))!
      const gone = await everythingOf(app, hank)
      const kept = await everythingOf(app, bob)
      expect(await store.deleteAccount(hank.id)).toBe(true)
      expect(await store.findAccountById(hank.id)).toBeNull()
      expect(await store.findAccountByUsername(hank.username)).toBeNull()
      // Pending request tokens were nobody's yet: they stay the application's.
      expect(await gone.left()).toEqual({
        session: false,
        guest: true,
        web: false,
        approved: false,
        pending: true,
        v4Consumed: false,
        v4Pending: true,
        access: false,
      })
      expect(await kept.left()).toEqual(ALL_LEFT)
      expect(await store.findApplicationById(app.id)).toEqual(app)
      expect(await store.deleteAccount(hank.id)).toBe(false)
      const again = await store.insertAccount(newAccount(hank.username.toUpperCase()))
      expect(again?.id).toBeGreaterThan(hank.id)
    })

    it('deleteApplication() and deleteAccount() racing with new sessions of theirs leave no row behind', async () => {
      const raced = newApp()
      await store.insertApplication(raced)
      const ivy = (await store.insertAccount(newAccount(`ivy_${hex(3)}`)))!
      const sessions = Array.from({ length: 10 }, () => ({
        sessionHash: hex(32),
        appId: raced.id,
        accountId: ivy.id,
        createdAt: now,
        expiresAt: null,
        epoch: ivy.epoch,
        accessTokenIdHash: null,
      }))
      // Each insert either lands before the deletion (and is deleted with it) or is refused after it.
      const outcomes = await Promise.allSettled([...sessions.map((session) => store.insertSession(session)), store.deleteApplication(raced.id)])
      expect(outcomes.at(-1)).toEqual({ status: 'fulfilled', value: true })
      for (const session of sessions) expect(await store.findSession(session.sessionHash)).toBeNull()
      expect(await store.deleteAccount(ivy.id)).toBe(true)
    })

    it('a write naming a deleted application or account fails alone, recognized by isDeletedReference(); the others of its moment commit', async () => {
      const gone = newApp()
      await store.insertApplication(gone)
      const jack = (await store.insertAccount(newAccount(`jack_${hex(3)}`)))!
      expect(await store.deleteApplication(gone.id)).toBe(true)
      expect(await store.deleteAccount(jack.id)).toBe(true)
      const innocent = { ...newSession(), accountId: alice.id }
      const outcomes = await Promise.allSettled([
        store.insertSession({ ...newSession(), appId: gone.id, accountId: alice.id }),
        store.insertSession({ ...newSession(), accountId: jack.id }),
        store.insertSession(innocent),
        store.insertRequestToken(pendingToken(gone.id)),
        store.insertGuestSession({ sessionHash: hex(32), appId: gone.id, createdAt: now, expiresAt: now + 1000 }),
      ])
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'fulfilled', 'rejected', 'rejected'])
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') expect(store.isDeletedReference(outcome.reason), String(outcome.reason)).toBe(true)
      }
      expect(await store.findSession(innocent.sessionHash)).toEqual(innocent)
      // The guarded writes of credentials look the account up themselves: one naming a deleted
      // account writes nothing and says so (false or null), like one naming a changed epoch.
      const lostWeb = { sessionHash: hex(32), accountId: jack.id, createdAt: now, expiresAt: now + 1000, epoch: jack.epoch }
      expect(await store.insertWebSession(lostWeb)).toBe(false)
      expect(await store.findWebSession(lostWeb.sessionHash)).toBeNull()
      const pending = pendingToken()
      await store.insertRequestToken(pending)
      expect(await store.approveRequestToken({ tokenHash: pending.tokenHash, accountId: jack.id, epoch: jack.epoch, now })).toBeNull()
      expect(await store.findRequestToken(pending.tokenHash)).toMatchObject({ status: 'pending', accountId: null })
      // Nothing else is taken for one: not a taken key, not a plain error.
      const duplicate = await store.insertApplication(app).catch((error: unknown) => error)
      expect(duplicate).toBeInstanceOf(Error)
      expect(store.isDeletedReference(duplicate)).toBe(false)
      expect(store.isDeletedReference(new Error('x'))).toBe(false)
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
        const { epoch } = (await store.findAccountById(accountId))!
        const v3 = pendingToken()
        await store.insertRequestToken(v3)
        await store.approveRequestToken({ tokenHash: v3.tokenHash, accountId, epoch, now, appId: app.id })
        const v4 = pendingV4Token()
        await store.insertV4RequestToken(v4)
        await store.approveV4RequestToken(v4.idHash, accountId, now, epoch)
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

    const pendingV4 = (): V4RequestTokenRecord => ({
      idHash: hex(32),
      appId: app.id,
      createdAt: now,
      expiresAt: now + 900_000,
      redirectTo: null,
      status: 'pending',
      accountId: null,
      consumedAt: null,
      epoch: null,
    })
    const newAccessToken = () => ({ idHash: hex(32), appId: app.id, createdAt: now, revokedAt: null })
    /** A live access token of `account` (approved under its current epoch); its id hash. */
    const liveAccessToken = async (account: AccountRecord): Promise<string> => {
      const { epoch } = (await store.findAccountById(account.id))!
      const v4 = pendingV4()
      await store.insertV4RequestToken(v4)
      await store.approveV4RequestToken(v4.idHash, account.id, now, epoch)
      const access = newAccessToken()
      expect(await store.createAccessTokenFromRequestToken(v4.idHash, app.id, now, access)).toEqual({ ok: true, accountId: account.id })
      return access.idHash
    }

    it('setAccountPassword(endSessions) and setAccountDisabled() move the epoch on; a rehash, and enabling an enabled account, do not', async () => {
      const hank = (await store.insertAccount(newAccount(`hank_${hex(3)}`)))!
      const epoch = async () => (await store.findAccountById(hank.id))!.epoch
      expect(hank.epoch).toBe(0)
      await store.setAccountPassword(hank.id, 'rehashed', false, now, hank.passwordHash)
      expect(await epoch()).toBe(0)
      await store.setAccountPassword(hank.id, 'new', true, now)
      expect(await epoch()).toBe(1)
      await store.setAccountDisabled(hank.id, false, now)
      expect(await epoch()).toBe(1)
      await store.setAccountDisabled(hank.id, true, now)
      expect(await epoch()).toBe(2)
      // Whatever was written under the epoch of the disabled account stays dead once it is enabled.
      await store.setAccountDisabled(hank.id, false, now)
      expect(await epoch()).toBe(3)
    })

    it('approveRequestToken() and approveV4RequestToken() record the epoch, and refuse one the account no longer has or a disabled account', async () => {
      const ivy = (await store.insertAccount(newAccount(`ivy_${hex(3)}`)))!
      const v3 = pendingToken()
      await store.insertRequestToken(v3)
      const v4 = pendingV4()
      await store.insertV4RequestToken(v4)
      await store.setAccountPassword(ivy.id, 'new', true, now)
      expect(await store.approveRequestToken({ tokenHash: v3.tokenHash, accountId: ivy.id, epoch: ivy.epoch, now })).toBeNull()
      expect(await store.approveV4RequestToken(v4.idHash, ivy.id, now, ivy.epoch)).toBeNull()
      expect(await store.approveRequestToken({ tokenHash: v3.tokenHash, accountId: ivy.id, epoch: ivy.epoch + 1, now })).toMatchObject({
        status: 'approved',
        epoch: ivy.epoch + 1,
      })
      expect(await store.approveV4RequestToken(v4.idHash, ivy.id, now, ivy.epoch + 1)).toMatchObject({ status: 'approved', epoch: ivy.epoch + 1 })
      const later = pendingToken()
      await store.insertRequestToken(later)
      await store.setAccountDisabled(ivy.id, true, now)
      const { epoch } = (await store.findAccountById(ivy.id))!
      expect(await store.approveRequestToken({ tokenHash: later.tokenHash, accountId: ivy.id, epoch, now })).toBeNull()
    })

    it('request tokens approved while the password changes give no session or access token once the change is done, 20 rounds', async () => {
      const jack = (await store.insertAccount(newAccount(`jack_${hex(3)}`)))!
      let given = 0
      for (let round = 0; round < 20; round++) {
        const { epoch } = (await store.findAccountById(jack.id))!
        const v3 = pendingToken()
        await store.insertRequestToken(v3)
        const v4 = pendingV4()
        await store.insertV4RequestToken(v4)
        // The approvals were checked against the old password; the change commits among them.
        await Promise.all([
          store.approveRequestToken({ tokenHash: v3.tokenHash, accountId: jack.id, epoch, now }),
          store.setAccountPassword(jack.id, `hash-${round}`, true, now),
          store.approveV4RequestToken(v4.idHash, jack.id, now, epoch),
        ])
        const session = newSession()
        if ((await store.createSessionFromRequestToken(v3.tokenHash, app.id, now, session)).ok) given++
        if ((await store.createAccessTokenFromRequestToken(v4.idHash, app.id, now, newAccessToken())).ok) given++
        expect(await store.findSession(session.sessionHash)).toBeNull()
      }
      expect(given).toBe(0)
    })

    it('approvals of never-stored tokens (with issued) record the epoch, and store no row for an epoch the account no longer has or a disabled account', async () => {
      const lena = (await store.insertAccount(newAccount(`lena_${hex(3)}`)))!
      const { tokenHash, appId, createdAt, expiresAt } = pendingToken()
      const issued = { appId, createdAt, expiresAt }
      const v4 = { idHash: hex(32), issued: { appId: app.id, createdAt: now, expiresAt: now + 900_000, redirectTo: null } }
      await store.setAccountPassword(lena.id, 'new', true, now)
      expect(await store.approveRequestToken({ tokenHash, accountId: lena.id, epoch: lena.epoch, now, appId: app.id, issued })).toBeNull()
      expect(await store.approveV4RequestToken(v4.idHash, lena.id, now, lena.epoch, v4.issued)).toBeNull()
      expect(await store.findRequestToken(tokenHash)).toBeNull()
      expect(await store.findV4RequestToken(v4.idHash)).toBeNull()
      expect(await store.approveRequestToken({ tokenHash, accountId: lena.id, epoch: lena.epoch + 1, now, appId: app.id, issued })).toMatchObject({
        status: 'approved',
        epoch: lena.epoch + 1,
      })
      expect(await store.approveV4RequestToken(v4.idHash, lena.id, now, lena.epoch + 1, v4.issued)).toMatchObject({ status: 'approved', epoch: lena.epoch + 1 })
      await store.setAccountDisabled(lena.id, true, now)
      const { epoch } = (await store.findAccountById(lena.id))!
      const later = hex(32)
      expect(await store.approveRequestToken({ tokenHash: later, accountId: lena.id, epoch, now, appId: app.id, issued })).toBeNull()
      expect(await store.approveV4RequestToken(later, lena.id, now, epoch, v4.issued)).toBeNull()
      expect(await store.findRequestToken(later)).toBeNull()
      expect(await store.findV4RequestToken(later)).toBeNull()
    })

    it('never-stored request tokens approved while the password changes give no session or access token once the change is done, 20 rounds', async () => {
      const mona = (await store.insertAccount(newAccount(`mona_${hex(3)}`)))!
      let given = 0
      for (let round = 0; round < 20; round++) {
        const { epoch } = (await store.findAccountById(mona.id))!
        const { tokenHash, appId, createdAt, expiresAt } = pendingToken()
        const v4 = { idHash: hex(32), issued: { appId: app.id, createdAt: now, expiresAt: now + 900_000, redirectTo: null } }
        // The approvals were checked against the old password; the change commits among them.
        await Promise.all([
          store.approveRequestToken({ tokenHash, accountId: mona.id, epoch, now, appId: app.id, issued: { appId, createdAt, expiresAt } }),
          store.setAccountPassword(mona.id, `hash-${round}`, true, now),
          store.approveV4RequestToken(v4.idHash, mona.id, now, epoch, v4.issued),
        ])
        const session = newSession()
        if ((await store.createSessionFromRequestToken(tokenHash, app.id, now, session)).ok) given++
        if ((await store.createAccessTokenFromRequestToken(v4.idHash, app.id, now, newAccessToken())).ok) given++
        expect(await store.findSession(session.sessionHash)).toBeNull()
      }
      expect(given).toBe(0)
    })

    it('sessions and access tokens carry the epoch of the token they were made from', async () => {
      const kate = (await store.insertAccount(newAccount(`kate_${hex(3)}`)))!
      await store.setAccountPassword(kate.id, 'new', true, now)
      const v3 = pendingToken()
      await store.insertRequestToken(v3)
      await store.approveRequestToken({ tokenHash: v3.tokenHash, accountId: kate.id, epoch: 1, now })
      const session = newSession()
      expect(await store.createSessionFromRequestToken(v3.tokenHash, app.id, now, session)).toEqual({ ok: true, accountId: kate.id })
      expect(await store.findSessionWithAccount(session.sessionHash)).toMatchObject({ session: { epoch: 1, accessTokenIdHash: null }, account: { epoch: 1 } })
      const access = await liveAccessToken(kate)
      expect(await store.findAccessToken(access)).toMatchObject({ epoch: 1 })
    })

    it("insertWebSession() stores a website session only under the account's current epoch, and not for a disabled account", async () => {
      const liam = (await store.insertAccount(newAccount(`liam_${hex(3)}`)))!
      const web = () => ({ sessionHash: hex(32), accountId: liam.id, createdAt: now, expiresAt: now + 1000, epoch: 0 })
      const current = web()
      expect(await store.insertWebSession(current)).toBe(true)
      expect(await store.findWebSession(current.sessionHash)).toEqual(current)
      await store.setAccountPassword(liam.id, 'new', true, now)
      const stale = web()
      expect(await store.insertWebSession(stale)).toBe(false)
      expect(await store.findWebSession(stale.sessionHash)).toBeNull()
      expect(await store.insertWebSession({ ...web(), epoch: 1 })).toBe(true)
      await store.setAccountDisabled(liam.id, true, now)
      expect(await store.insertWebSession({ ...web(), epoch: 2 })).toBe(false)
      expect(await store.insertWebSession({ ...web(), accountId: 999_999_999 })).toBe(false)
    })

    it('createSessionFromAccessToken() makes a session of a live access token, under its epoch and linked to it, while its account still has that epoch', async () => {
      const mia = (await store.insertAccount(newAccount(`mia_${hex(3)}`)))!
      const access = await liveAccessToken(mia)
      const session = { ...newSession(), expiresAt: now + 5000 }
      expect(await store.createSessionFromAccessToken(access, session)).toBe(mia.id)
      expect(await store.findSession(session.sessionHash)).toEqual({ ...session, accountId: mia.id, epoch: 0, accessTokenIdHash: access })
      expect(await store.createSessionFromAccessToken(access, { ...newSession(), appId: otherApp.id })).toBeNull()
      expect(await store.createSessionFromAccessToken(hex(32), newSession())).toBeNull()
      const revoked = await liveAccessToken(mia)
      await store.revokeAccessToken(revoked, app.id, now)
      expect(await store.createSessionFromAccessToken(revoked, newSession())).toBeNull()
      // A token left unrevoked by a change it raced is refused all the same: its epoch is gone.
      const raced = await liveAccessToken(mia)
      const snapshot = await store.exportAll()
      await store.setAccountPassword(mia.id, 'new', true, now)
      expect((await store.findAccountById(mia.id))!.epoch).toBe(1)
      expect(snapshot.accessTokens.find((token) => token.idHash === raced)).toMatchObject({ revokedAt: null, epoch: 0 })
      const refused = newSession()
      expect(await store.createSessionFromAccessToken(raced, refused)).toBeNull()
      expect(await store.findSession(refused.sessionHash)).toBeNull()
      const fresh = await liveAccessToken(mia)
      expect(await store.createSessionFromAccessToken(fresh, newSession())).toBe(mia.id)
      await store.setAccountDisabled(mia.id, true, now)
      await store.setAccountDisabled(mia.id, false, now)
      expect(await store.createSessionFromAccessToken(fresh, newSession())).toBeNull()
    })

    it('createSessionFromAccessToken() callers of one moment each get their own outcome, and one that fails fails alone', async () => {
      const [olga, pete] = [(await store.insertAccount(newAccount(`olga_${hex(3)}`)))!, (await store.insertAccount(newAccount(`pete_${hex(3)}`)))!]
      const [live, stale, revoked, peteToken] = [
        await liveAccessToken(olga),
        await liveAccessToken(olga),
        await liveAccessToken(olga),
        await liveAccessToken(pete),
      ]
      await store.revokeAccessToken(revoked, app.id, now)
      // A token its account's password change left behind (as a change racing its creation can).
      const leftBehind = (await store.exportAll()).accessTokens.find((token) => token.idHash === stale)!
      await store.setAccountPassword(olga.id, 'new', true, now)
      const after = await store.exportAll()
      await store.replaceAll({ ...after, accessTokens: after.accessTokens.map((token) => (token.idHash === stale ? leftBehind : token)) })
      const fresh = await liveAccessToken(olga)
      const collision = newSession()
      const calls: [token: string, session: ReturnType<typeof newSession>][] = [
        [fresh, newSession()],
        [stale, newSession()],
        [revoked, newSession()],
        [peteToken, { ...newSession(), appId: otherApp.id }],
        [hex(32), newSession()],
        [peteToken, newSession()],
        [fresh, collision],
        [peteToken, collision],
        [live, newSession()],
      ]
      const results = await Promise.allSettled(calls.map(([token, session]) => store.createSessionFromAccessToken(token, session)))
      const outcomes = results.map((r) => (r.status === 'fulfilled' ? r.value : 'failed'))
      expect(outcomes.slice(0, 6)).toEqual([olga.id, null, null, null, null, pete.id])
      // Of two callers with the same session id one fails; the other gets its session.
      expect([
        [olga.id, 'failed'],
        ['failed', pete.id],
      ]).toContainEqual(outcomes.slice(6, 8))
      // The password change ended `live` too (revoked with the account's other credentials).
      expect(outcomes[8]).toBeNull()
      const stored = await Promise.all(calls.map(([, session]) => store.findSession(session.sessionHash)))
      expect(stored.slice(0, 6).map((s) => s?.accountId ?? null)).toEqual([olga.id, null, null, null, null, pete.id])
      expect(stored[0]).toMatchObject({ epoch: 1, accessTokenIdHash: fresh })
    })

    it('revokeAccessToken() deletes the sessions converted from that token, and only those', async () => {
      const noah = (await store.insertAccount(newAccount(`noah_${hex(3)}`)))!
      const [deleted, kept] = [await liveAccessToken(noah), await liveAccessToken(noah)]
      const converted = Array.from({ length: 5 }, newSession)
      for (const session of converted) expect(await store.createSessionFromAccessToken(deleted, session)).toBe(noah.id)
      const fromKept = newSession()
      await store.createSessionFromAccessToken(kept, fromKept)
      const plain = { ...newSession(), accountId: noah.id }
      await store.insertSession(plain)
      expect(await store.revokeAccessToken(deleted, otherApp.id, now)).toBe(false)
      expect(await store.findSession(converted[0]!.sessionHash)).not.toBeNull()
      expect(await store.revokeAccessToken(deleted, app.id, now)).toBe(true)
      for (const session of converted) expect(await store.findSession(session.sessionHash)).toBeNull()
      expect(await store.findSession(fromKept.sessionHash)).not.toBeNull()
      expect(await store.findSession(plain.sessionHash)).not.toBeNull()
    })

    it('createAccessTokenFromRequestToken() consumes an approved v4 token exactly once under a race', async () => {
      const v4 = pendingV4Token({ redirectTo: 'https://example.com/cb' })
      await store.insertV4RequestToken(v4)
      expect(await store.findV4RequestToken(v4.idHash)).toEqual(v4)
      expect(
        await store.createAccessTokenFromRequestToken(v4.idHash, app.id, now, { idHash: hex(32), appId: app.id, createdAt: now, revokedAt: null }),
      ).toEqual({
        ok: false,
        reason: 'pending',
      })
      expect(await store.approveV4RequestToken(v4.idHash, bob.id, now, bob.epoch)).toMatchObject({ status: 'approved', accountId: bob.id })
      const accessTokens = Array.from({ length: 30 }, () => ({ idHash: hex(32), appId: app.id, createdAt: now, revokedAt: null, epoch: bob.epoch }))
      const results = await Promise.all(accessTokens.map((a) => store.createAccessTokenFromRequestToken(v4.idHash, app.id, now, a)))
      expect(results.filter((r) => r.ok)).toHaveLength(1)
      const winner = accessTokens[results.findIndex((r) => r.ok)]!
      expect(await store.findAccessToken(winner.idHash)).toEqual({ ...winner, accountId: bob.id })
      expect(await store.revokeAccessToken(winner.idHash, otherApp.id, now)).toBe(false)
      expect(await store.revokeAccessToken(winner.idHash, app.id, now)).toBe(true)
      expect(await store.revokeAccessToken(winner.idHash, app.id, now)).toBe(false)
    })

    it('denyV4RequestToken() makes a pending v4 token refuse consumption as denied', async () => {
      const v4 = pendingV4Token()
      await store.insertV4RequestToken(v4)
      expect(await store.denyV4RequestToken(v4.idHash, now)).toMatchObject({ status: 'denied' })
      expect(
        await store.createAccessTokenFromRequestToken(v4.idHash, app.id, now, { idHash: hex(32), appId: app.id, createdAt: now, revokedAt: null }),
      ).toEqual({
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
      const web = { sessionHash: hex(32), accountId: alice.id, createdAt: now, expiresAt: now + 1000, epoch: alice.epoch }
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
      await store.approveRequestToken({ tokenHash: approved.tokenHash, accountId: alice.id, epoch: alice.epoch, now })
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
      await store.approveRequestToken({ tokenHash: consumed.tokenHash, accountId: alice.id, epoch: alice.epoch, now })
      await store.createSessionFromRequestToken(consumed.tokenHash, app.id, now, { ...newSession(), expiresAt: at + 1 })
      await store.insertSession({ ...newSession(), accountId: alice.id, expiresAt: at })
      await store.insertSession({ ...newSession(), accountId: alice.id })
      await store.insertGuestSession({ sessionHash: hex(32), appId: app.id, createdAt: now, expiresAt: at + 1 })
      await store.insertGuestSession({ sessionHash: hex(32), appId: app.id, createdAt: now, expiresAt: at })
      const v4 = (): V4RequestTokenRecord => ({
        idHash: hex(32),
        appId: app.id,
        createdAt: now,
        expiresAt: at + 1,
        redirectTo: null,
        status: 'pending',
        accountId: null,
        consumedAt: null,
        epoch: null,
      })
      const issued: string[] = []
      for (let i = 0; i < 2; i++) {
        const token = v4()
        await store.insertV4RequestToken(token)
        await store.approveV4RequestToken(token.idHash, alice.id, now, alice.epoch)
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
      const deadReset = { tokenHash: hex(32), accountId: alice.id, createdAt: now, expiresAt: now + 1, usedAt: null }
      await store.insertPasswordResetToken(deadReset)
      expect(await store.purgeExpired(later, 2)).toBe(2)
      let total = 2
      for (let batch = await store.purgeExpired(later, 2); batch > 0; batch = await store.purgeExpired(later, 2)) {
        expect(batch).toBeLessThanOrEqual(2)
        total += batch
      }
      expect(total).toBeGreaterThanOrEqual(7)
      for (const token of dead) expect(await store.findRequestToken(token.tokenHash)).toBeNull()
      expect(await store.findGuestSession(deadGuest.sessionHash)).toBeNull()
      expect(await store.findPasswordResetToken(deadReset.tokenHash)).toBeNull()
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
        await store.approveRequestToken({ tokenHash: token.tokenHash, accountId: alice.id, epoch: alice.epoch, now })
        const session = newSession()
        await store.createSessionFromRequestToken(token.tokenHash, app.id, now, session)
        await store.insertGuestSession({ sessionHash: hex(32), appId: app.id, createdAt: now, expiresAt: now + 1 })
        const v4 = pendingV4Token()
        await store.insertV4RequestToken(v4)
        await store.approveV4RequestToken(v4.idHash, bob.id, now, bob.epoch)
        await store.createAccessTokenFromRequestToken(v4.idHash, app.id, now, { idHash: hex(32), appId: app.id, createdAt: now, revokedAt: null })
        await store.insertSigningKey({ kid: hex(8), secret: hex(32), createdAt: now, retiredAt: now + 1 })
        await store.insertWebSession({ sessionHash: hex(32), accountId: bob.id, createdAt: now, expiresAt: now + 1000, epoch: bob.epoch })
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

    // account page:

    /** An account holding one of each credential: a session, a v4 access token, two website sessions. */
    const accountWithCredentials = async (prefix: string) => {
      const account = (await store.insertAccount(newAccount(`${prefix}_${hex(3)}`)))!
      const session = { ...newSession(), accountId: account.id, createdAt: now + 1, epoch: account.epoch }
      await store.insertSession(session)
      const v4 = pendingV4Token({ appId: otherApp.id })
      await store.insertV4RequestToken(v4)
      expect(await store.approveV4RequestToken(v4.idHash, account.id, now, account.epoch)).not.toBeNull()
      const access = { idHash: hex(32), appId: otherApp.id, createdAt: now + 2, revokedAt: null }
      await store.createAccessTokenFromRequestToken(v4.idHash, otherApp.id, now, access)
      const web = { sessionHash: hex(32), accountId: account.id, createdAt: now + 3, expiresAt: now + 60_000, epoch: account.epoch }
      const otherWeb = { sessionHash: hex(32), accountId: account.id, createdAt: now + 4, expiresAt: now + 60_000, epoch: account.epoch }
      expect(await store.insertWebSession(web)).toBe(true)
      expect(await store.insertWebSession(otherWeb)).toBe(true)
      return { account, session, access, web, otherWeb }
    }

    it('listAccountCredentials() lists the live sessions, access tokens and website sessions of the account only, newest first', async () => {
      const { account, session, access, web, otherWeb } = await accountWithCredentials('lister')
      await accountWithCredentials('neighbour')
      const expired = { sessionHash: hex(32), accountId: account.id, createdAt: now, expiresAt: now + 10, epoch: account.epoch }
      expect(await store.insertWebSession(expired)).toBe(true)
      expect((await store.listAccountCredentials(account.id, now + 10, 2)).map((c) => c.hash)).toEqual([otherWeb.sessionHash, web.sessionHash])
      expect(await store.listAccountCredentials(account.id, now + 10, 100)).toEqual([
        { kind: 'web_session', hash: otherWeb.sessionHash, appName: null, createdAt: now + 4, expiresAt: now + 60_000, lastUsedAt: null },
        { kind: 'web_session', hash: web.sessionHash, appName: null, createdAt: now + 3, expiresAt: now + 60_000, lastUsedAt: null },
        { kind: 'access_token', hash: access.idHash, appName: otherApp.name, createdAt: now + 2, expiresAt: null, lastUsedAt: null },
        { kind: 'session', hash: session.sessionHash, appName: app.name, createdAt: now + 1, expiresAt: null, lastUsedAt: null },
      ])
    })

    it('touchWebSession() records when a website session was used, at most once per interval', async () => {
      const { account, web } = await accountWithCredentials('toucher')
      const lastUsed = async (): Promise<number | null | undefined> =>
        (await store.listAccountCredentials(account.id, now, 100)).find((credential) => credential.hash === web.sessionHash)?.lastUsedAt
      await store.touchWebSession(web.sessionHash, now + 100, 60_000)
      expect(await lastUsed()).toBe(now + 100)
      await store.touchWebSession(web.sessionHash, now + 60_099, 60_000)
      expect(await lastUsed()).toBe(now + 100)
      await store.touchWebSession(web.sessionHash, now + 60_100, 60_000)
      expect(await lastUsed()).toBe(now + 60_100)
      await store.touchWebSession(hex(32), now, 60_000)
    })

    it("endAccountCredential() ends one credential of the account, once, and never another account's", async () => {
      const { account, session, access, web } = await accountWithCredentials('revoker')
      const stranger = (await store.insertAccount(newAccount(`stranger_${hex(3)}`)))!
      expect(await store.endAccountCredential(stranger.id, { kind: 'session', hash: session.sessionHash }, now)).toBe(false)
      expect(await store.findSession(session.sessionHash)).not.toBeNull()
      expect(await store.endAccountCredential(account.id, { kind: 'session', hash: session.sessionHash }, now)).toBe(true)
      expect(await store.endAccountCredential(account.id, { kind: 'session', hash: session.sessionHash }, now)).toBe(false)
      expect(await store.findSession(session.sessionHash)).toBeNull()
      expect(await store.endAccountCredential(account.id, { kind: 'access_token', hash: access.idHash }, now + 7)).toBe(true)
      expect((await store.findAccessToken(access.idHash))?.revokedAt).toBe(now + 7)
      expect(await store.endAccountCredential(account.id, { kind: 'access_token', hash: access.idHash }, now + 8)).toBe(false)
      expect(await store.endAccountCredential(account.id, { kind: 'web_session', hash: web.sessionHash }, now)).toBe(true)
      expect(await store.findWebSession(web.sessionHash)).toBeNull()
      expect((await store.listAccountCredentials(account.id, now, 100)).map((c) => c.kind)).toEqual(['web_session'])
    })

    it('endAccountCredentials() ends everything of the account but the website session it keeps', async () => {
      const { account, session, access, web, otherWeb } = await accountWithCredentials('everywhere')
      const { session: neighbourSession } = await accountWithCredentials('bystander')
      await store.endAccountCredentials(account.id, now + 9, web.sessionHash)
      expect(await store.findSession(session.sessionHash)).toBeNull()
      expect((await store.findAccessToken(access.idHash))?.revokedAt).toBe(now + 9)
      expect(await store.findWebSession(otherWeb.sessionHash)).toBeNull()
      expect(await store.findWebSession(web.sessionHash)).not.toBeNull()
      expect(await store.findSession(neighbourSession.sessionHash)).not.toBeNull()
      // The epoch moved on, and the kept website session with it.
      expect((await store.findAccountById(account.id))?.epoch).toBe(account.epoch + 1)
      expect((await store.findWebSession(web.sessionHash))?.epoch).toBe(account.epoch + 1)
      await store.endAccountCredentials(account.id, now + 9, null)
      expect(await store.listAccountCredentials(account.id, now, 100)).toEqual([])
      expect((await store.findAccountById(account.id))?.epoch).toBe(account.epoch + 2)
    })

    it('changeAccountPassword() swaps the hash only while it is the expected one, and ends every other credential with it', async () => {
      const { account, session, access, web, otherWeb } = await accountWithCredentials('changer')
      const change = { accountId: account.id, passwordHash: 'new-hash', expectedHash: 'not-the-hash', now: now + 5, keepWebSessionHash: web.sessionHash }
      expect(await store.changeAccountPassword(change)).toBe(false)
      expect(await store.findSession(session.sessionHash)).not.toBeNull()
      expect((await store.findAccountById(account.id))?.epoch).toBe(account.epoch)
      expect(await store.changeAccountPassword({ ...change, expectedHash: account.passwordHash })).toBe(true)
      expect((await store.findAccountById(account.id))?.passwordHash).toBe('new-hash')
      expect(await store.findSession(session.sessionHash)).toBeNull()
      expect((await store.findAccessToken(access.idHash))?.revokedAt).toBe(now + 5)
      expect(await store.findWebSession(otherWeb.sessionHash)).toBeNull()
      expect(await store.findWebSession(web.sessionHash)).not.toBeNull()
      // Nothing issued under the old epoch, even while the change ran, is written or accepted after it;
      // the website session the change came through moved to the new epoch with it.
      const changed = (await store.findAccountById(account.id))!
      expect(changed.epoch).toBe(account.epoch + 1)
      expect((await store.findWebSession(web.sessionHash))?.epoch).toBe(changed.epoch)
      expect(await store.insertWebSession({ sessionHash: hex(32), accountId: account.id, createdAt: now, expiresAt: now + 1000, epoch: account.epoch })).toBe(
        false,
      )
    })

    it('setAccountName() sets the display name', async () => {
      const account = (await store.insertAccount(newAccount(`namer_${hex(3)}`)))!
      expect(await store.setAccountName(account.id, 'Zoë Ünïcode')).toBe(true)
      expect((await store.findAccountById(account.id))?.name).toBe('Zoë Ünïcode')
      expect(await store.setAccountName(999_999_999, 'nobody')).toBe(false)
    })

    it('insertPasswordResetToken() keeps only the newest token of an account, and drops expired ones', async () => {
      const account = (await store.insertAccount(newAccount(`resetter_${hex(3)}`)))!
      const other = (await store.insertAccount(newAccount(`resetter_${hex(3)}`)))!
      const first = { tokenHash: hex(32), accountId: account.id, createdAt: now, expiresAt: now + 3_600_000, usedAt: null }
      const expiring = { tokenHash: hex(32), accountId: other.id, createdAt: now, expiresAt: now + 10, usedAt: null }
      await store.insertPasswordResetToken(first)
      await store.insertPasswordResetToken(expiring)
      expect(await store.findPasswordResetToken(first.tokenHash)).toEqual(first)
      const second = { ...first, tokenHash: hex(32), createdAt: now + 10, expiresAt: now + 3_600_010 }
      await store.insertPasswordResetToken(second)
      expect(await store.findPasswordResetToken(first.tokenHash)).toBeNull()
      expect(await store.findPasswordResetToken(expiring.tokenHash)).toBeNull()
      expect(await store.findPasswordResetToken(second.tokenHash)).toEqual(second)
    })

    it('resetPasswordWithToken() sets the password and ends every credential, for exactly one of racing callers, before expiry only', async () => {
      const { account, session, access, web } = await accountWithCredentials('recover')
      const token = { tokenHash: hex(32), accountId: account.id, createdAt: now, expiresAt: now + 3_600_000, usedAt: null }
      await store.insertPasswordResetToken(token)
      expect(await store.resetPasswordWithToken(token.tokenHash, 'too-late', now + 3_600_000)).toBeNull()
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.resetPasswordWithToken(token.tokenHash, `reset-${i}`, now + 60)))
      const winners = results.flatMap((result, i) => (result === null ? [] : [i]))
      expect(winners).toHaveLength(1)
      expect(results[winners[0]!]).toBe(account.id)
      expect((await store.findAccountById(account.id))?.passwordHash).toBe(`reset-${winners[0]}`)
      expect((await store.findPasswordResetToken(token.tokenHash))?.usedAt).toBe(now + 60)
      expect(await store.findSession(session.sessionHash)).toBeNull()
      expect(await store.findWebSession(web.sessionHash)).toBeNull()
      expect((await store.findAccessToken(access.idHash))?.revokedAt).toBe(now + 60)
      expect((await store.findAccountById(account.id))?.epoch).toBe(account.epoch + 1)
      expect(await store.resetPasswordWithToken(hex(32), 'unknown', now)).toBeNull()
    })

    it('replaceAll() changes nothing when a row is refused', async () => {
      const { store: target, teardown: dropTarget } = await factory()
      try {
        const before = await store.exportAll()
        await target.replaceAll(before)
        const orphan = { sessionHash: hex(32), appId: app.id, accountId: 987_654_321, createdAt: now, expiresAt: null, epoch: 0, accessTokenIdHash: null }
        await expect(target.replaceAll({ ...before, accounts: [], sessions: [orphan] })).rejects.toThrow()
        expect(await target.exportAll()).toEqual(before)
      } finally {
        await dropTarget()
      }
    })
  })
}
