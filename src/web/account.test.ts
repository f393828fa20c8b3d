import { AxeBuilder } from '@axe-core/playwright'
import { existsSync } from 'node:fs'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { docsScreenshot, launchChromium } from '../test-support/browser.js'
import { call, createTestUser, loginOverHttp, startTestServer, testBackends, type TestServer, type TestUser } from '../test-support/fixtures.js'
import { newRequestToken } from '../test-support/web-client.js'

const CHROMIUM = '/usr/bin/chromium'
const WCAG_22_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']
const DESKTOP = { width: 1280, height: 800 }
const PHONE = { width: 390, height: 844 }

describe.each(await testBackends('account page in Chromium'))('the account page in Chromium on %s', (backend) => {
  let server: TestServer
  let browser: Browser

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)`)
    server = await startTestServer({ env: { CINEPASS_SIGNUP: 'open' }, backend })
    browser = await launchChromium()
  })
  afterAll(async () => {
    // undefined when beforeAll failed before assigning them
    await (browser as Browser | undefined)?.close()
    await (server as TestServer | undefined)?.stop()
  })

  const headers = (): Record<string, string> => ({ authorization: `Bearer ${server.application.readAccessToken}`, 'content-type': 'application/json' })

  /** `/3/account` with a v3 session: the HTTP status and TMDB status code. */
  const withSession = async (sessionId: string): Promise<[number, number | undefined]> => {
    const response = await call(`${server.base}/3/account?api_key=${server.application.apiKey}&session_id=${sessionId}`)
    return [response.status, response.body.status_code]
  }
  /** `/3/account` with a user's v4 access token as the bearer. */
  const withAccessToken = async (accessToken: string): Promise<number> =>
    (await call(`${server.base}/3/account`, { headers: { authorization: `Bearer ${accessToken}` } })).status

  /** A v4 access token of the user (approved through core, as the website does) and a session converted from it. */
  const accessTokenAndConvertedSession = async (user: TestUser): Promise<{ accessToken: string; converted: string }> => {
    const created = await call(`${server.base}/4/auth/request_token`, { method: 'POST', headers: headers() })
    const account = await server.core.deps.store.findAccountById(user.id)
    await server.core.website.approveV4(created.body.request_token, account!)
    const access = await call(`${server.base}/4/auth/access_token`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ request_token: created.body.request_token }),
    })
    const converted = await call(`${server.base}/3/authentication/session/convert/4`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ access_token: access.body.access_token }),
    })
    return { accessToken: access.body.access_token as string, converted: converted.body.session_id as string }
  }

  const newContext = async (viewport = PHONE, colorScheme: 'light' | 'dark' = 'light'): Promise<BrowserContext> => {
    const context = await browser.newContext({ viewport, colorScheme })
    // A step that cannot happen fails in seconds, naming itself, rather than at the test's timeout.
    context.setDefaultTimeout(8000)
    return context
  }

  /** Opens /account in `context`, logging in on the way (the page sends a signed-out visitor to the form). */
  const openAccount = async (context: BrowserContext, user: TestUser, password = user.password): Promise<Page> => {
    const page = await context.newPage()
    await page.goto(`${server.base}/account`)
    await page.getByLabel('Username').fill(user.username)
    await page.getByLabel('Password').fill(password)
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.getByRole('heading', { name: 'Your account' }).waitFor()
    return page
  }

  const expectNoAxeViolations = async (page: Page, what: string): Promise<void> => {
    const results = await new AxeBuilder({ page }).withTags(WCAG_22_AA).analyze()
    const found = results.violations.map((violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`)
    expect(found, `${what}: axe violations`).toEqual([])
  }

  /** Pictures of the new pages for the docs, from one backend's run (the pages are the same on both). */
  const screenshot = async (page: Page, name: string): Promise<void> => {
    if (backend === 'sqlite') await docsScreenshot(page, name)
  }

  it('change password: the old password fails, every other session, access token and website session ends, this browser stays', async () => {
    const user = await createTestUser(server.core)
    const apiSession = await loginOverHttp(server, user)
    const { accessToken, converted } = await accessTokenAndConvertedSession(user)
    const other = await newContext()
    const otherPage = await openAccount(other, user)
    const context = await newContext(DESKTOP)
    const page = await openAccount(context, user)
    // The API session, the converted one, the access token, the other browser and this one.
    await expect(page.getByRole('button', { name: 'Revoke' }).count()).resolves.toBe(5)
    await expect(page.locator('.badge').filter({ hasText: 'this browser' }).count()).resolves.toBe(1)

    await page.getByLabel('Current password').fill(user.password)
    await page.getByLabel('New password').fill('a brand new passphrase')
    await page.getByRole('button', { name: 'Change password' }).click()
    await page.getByRole('status').filter({ hasText: 'Your password is changed' }).waitFor()
    await expect(page.getByRole('button', { name: 'Revoke' }).count()).resolves.toBe(1)

    expect(await withSession(apiSession)).toEqual([401, 3])
    expect(await withSession(converted)).toEqual([401, 3])
    expect(await withAccessToken(accessToken)).toBe(401)
    await otherPage.goto(`${server.base}/account`)
    expect(new URL(otherPage.url()).pathname).toBe('/login')
    await expect(server.core.auth.verifyLogin(user.username, user.password)).rejects.toMatchObject({ code: 'INVALID_LOGIN' })
    await expect(server.core.auth.verifyLogin(user.username, 'a brand new passphrase')).resolves.toMatchObject({ id: user.id })
    await page.reload()
    await page.getByRole('heading', { name: 'Your account' }).waitFor()
    await other.close()
    await context.close()
  })

  it('revoke: the session, access token or website session of that row ends at once, and only it', async () => {
    // A fixed name, so the committed screenshots only change when the page does.
    const user = await createTestUser(server.core, { username: 'filmbuff' })
    const apiSession = await loginOverHttp(server, user)
    const { accessToken, converted } = await accessTokenAndConvertedSession(user)
    const other = await newContext()
    const otherPage = await openAccount(other, user)
    const context = await newContext(DESKTOP)
    const page = await openAccount(context, user)
    await screenshot(page, 'account-desktop.png')
    await page.setViewportSize(PHONE)
    await screenshot(page, 'account-phone.png')

    const rows = page.getByRole('listitem')
    const revoke = async (text: string): Promise<void> => {
      await rows.filter({ hasText: text }).first().getByRole('button', { name: 'Revoke' }).click()
      await page.getByRole('status').filter({ hasText: 'That session has ended' }).waitFor()
    }
    await revoke('v4 access token')
    expect(await withAccessToken(accessToken)).toBe(401)
    expect(await withSession(apiSession)).toEqual([200, undefined])
    // Newest first: the session converted from the token is the first API session row.
    await revoke('API session')
    expect(await withSession(converted)).toEqual([401, 3])
    expect(await withSession(apiSession)).toEqual([200, undefined])
    await revoke('API session')
    expect(await withSession(apiSession)).toEqual([401, 3])
    await rows.filter({ hasText: 'Website session' }).filter({ hasNotText: 'this browser' }).getByRole('button', { name: 'Revoke' }).click()
    await page.getByRole('status').waitFor()
    await otherPage.goto(`${server.base}/account`)
    expect(new URL(otherPage.url()).pathname).toBe('/login')
    await expect(rows.count()).resolves.toBe(1)
    await other.close()
    await context.close()
  })

  it('log out everywhere ends every session, this browser included', async () => {
    const user = await createTestUser(server.core)
    const apiSession = await loginOverHttp(server, user)
    const context = await newContext()
    const page = await openAccount(context, user)
    await page.getByRole('button', { name: 'Log out everywhere' }).click()
    await page.getByRole('heading', { name: 'Log in' }).waitFor()
    expect(await withSession(apiSession)).toEqual([401, 3])
    await page.goto(`${server.base}/account`)
    expect(new URL(page.url()).pathname).toBe('/login')
    await context.close()
  })

  it('reset link: sets the password once, ends every session; the link then answers 410', async () => {
    const user = await createTestUser(server.core, { username: 'forgetful' })
    const apiSession = await loginOverHttp(server, user)
    const { token } = await server.core.account.createResetToken(user.username)
    const link = `${server.base}/account/reset?token=${token}`
    const context = await newContext(DESKTOP)
    const page = await context.newPage()
    await page.goto(link)
    await expectNoAxeViolations(page, 'reset page')
    await screenshot(page, 'reset-desktop.png')
    await page.setViewportSize(PHONE)
    await screenshot(page, 'reset-phone.png')
    // Too short: refused on the page, the link still good.
    await page.getByLabel('New password').fill('short')
    await page.getByRole('button', { name: 'Set password' }).click()
    await page.locator('#error-summary').waitFor()
    await page.getByLabel('New password').fill('recovered at last')
    await page.getByRole('button', { name: 'Set password' }).click()
    await page.getByRole('heading', { name: 'Password set' }).waitFor()
    expect(await withSession(apiSession)).toEqual([401, 3])
    await expect(server.core.auth.verifyLogin(user.username, 'recovered at last')).resolves.toMatchObject({ id: user.id })
    const again = await page.goto(link)
    expect(again?.status()).toBe(410)
    await page.getByRole('link', { name: 'Go to the log-in page' }).waitFor()
    await context.close()
  })

  it('a refused form moves focus to the error summary and ties each error to its field', async () => {
    const user = await createTestUser(server.core, { username: 'critic' })
    const context = await newContext(DESKTOP)
    const page = await openAccount(context, user)
    await page.getByLabel('Current password').fill('not my password')
    await page.getByLabel('New password').fill('whatever it is now')
    await page.getByRole('button', { name: 'Change password' }).click()
    await page.locator('#error-summary').waitFor()
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('error-summary')
    const current = page.getByLabel('Current password')
    await expect(current.getAttribute('aria-invalid')).resolves.toBe('true')
    const describedBy = (await current.getAttribute('aria-describedby')) ?? ''
    expect(await page.locator(`#${describedBy.split(' ').at(-1)}`).innerText()).toContain('Your current password is not right.')
    await expect(page.getByLabel('New password').getAttribute('aria-invalid')).resolves.toBeNull()
    await expectNoAxeViolations(page, 'account page with an error')
    await screenshot(page, 'account-error-desktop.png')
    // The summary's link leads to the field.
    await page.locator('#error-summary a').click()
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('current-password')

    // The same on the log-in form (of a browser not logged in).
    const loggedOut = await newContext(DESKTOP)
    const login = await loggedOut.newPage()
    await login.goto(`${server.base}/login`)
    await login.getByLabel('Username').fill(user.username)
    await login.getByLabel('Password').fill('wrong again')
    await login.getByRole('button', { name: 'Log in' }).click()
    await login.locator('#error-summary').waitFor()
    expect(await login.evaluate(() => document.activeElement?.id)).toBe('error-summary')
    await expect(login.getByLabel('Password').getAttribute('aria-invalid')).resolves.toBe('true')
    await loggedOut.close()
    await context.close()
  })

  for (const colorScheme of ['light', 'dark'] as const) {
    it(`every page passes axe (WCAG 2.2 AA), says "Log in"/"Log out" only, and shows controls at 3:1 or more, ${colorScheme}`, async () => {
      const user = await createTestUser(server.core, { username: `cinephile_${colorScheme}` })
      await loginOverHttp(server, user)
      const context = await newContext(DESKTOP, colorScheme)
      const signedOut = await context.newPage()
      const token = await newRequestToken(server)
      // Refusals (4xx pages) must offer a way back: a link in the page's main part.
      const pages: [what: string, path: string, refusal: boolean][] = [
        ['log-in form', '/login', false],
        ['sign-up form', '/signup', false],
        ['approval log-in', `/authenticate/${token}`, false],
        ['unknown approval link', `/authenticate/${'0'.repeat(40)}`, true],
        ['unknown page', '/no-such-page', true],
        ['refused redirect_to', `/authenticate/${token}?redirect_to=javascript:alert(1)`, true],
        ['dead reset link', `/account/reset?token=${'0'.repeat(40)}`, true],
      ]
      const visit = async (page: Page, what: string, path: string, refusal = false): Promise<void> => {
        const response = await page.goto(`${server.base}${path}`)
        expect(response!.status() >= 400, what).toBe(refusal)
        await expectNoAxeViolations(page, what)
        const text = await page.locator('body').innerText()
        expect(text, what).not.toMatch(/sign(ed)? ?(in|out)/i)
        await expect(page.getByRole('contentinfo').getByRole('link', { name: 'Your account' }).count(), what).resolves.toBe(1)
        if (refusal) expect(await page.getByRole('main').getByRole('link').count(), what).toBeGreaterThan(0)
      }
      for (const [what, path, refusal] of pages) await visit(signedOut, what, path, refusal)

      const page = await openAccount(context, user)
      await expectNoAxeViolations(page, 'account page')
      for (const [what, path] of [
        ['home', '/'],
        ['log-out page', '/logout'],
        ['approval', `/authenticate/${token}`],
        ['account', '/account'],
      ] as const)
        await visit(page, what, path)
      if (colorScheme === 'dark') await screenshot(page, 'account-dark-desktop.png')

      // What axe does not measure: the contrast of input borders and of the focus ring with the card.
      const contrasts = await page.evaluate(() => {
        const rgb = (color: string): number[] => (color.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number)
        const luminance = (color: string): number => {
          const [r, g, b] = rgb(color).map((c) => (c / 255 <= 0.03928 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4))
          return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!
        }
        const ratio = (a: string, b: string): number => {
          const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x)
          return (light! + 0.05) / (dark! + 0.05)
        }
        const card = getComputedStyle(document.querySelector('.card')!).backgroundColor
        const pageBackground = getComputedStyle(document.body).backgroundColor
        const input = document.querySelector<HTMLInputElement>('#current-password')!
        input.focus()
        const style = getComputedStyle(input)
        return {
          border: ratio(style.borderTopColor, card),
          borderOnField: ratio(style.borderTopColor, style.backgroundColor),
          focusOnCard: ratio(style.outlineColor, card),
          focusOnPage: ratio(style.outlineColor, pageBackground),
          outlineWidth: parseFloat(style.outlineWidth),
        }
      })
      expect(contrasts.border).toBeGreaterThanOrEqual(3)
      expect(contrasts.borderOnField).toBeGreaterThanOrEqual(3)
      expect(contrasts.focusOnCard).toBeGreaterThanOrEqual(3)
      expect(contrasts.focusOnPage).toBeGreaterThanOrEqual(3)
      expect(contrasts.outlineWidth).toBeGreaterThanOrEqual(2)
      await context.close()
    }, 120_000)
  }
})
