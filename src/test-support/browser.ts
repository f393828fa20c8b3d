import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'

/** Debian's Chromium, headless, with the flags this machine's closed network needs. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
}

const SCREENSHOTS = join(import.meta.dirname, '../../docs/screenshots')

/**
 * Takes a full-page screenshot of `page`. With CINEPASS_SCREENSHOTS=1 it is written to
 * docs/screenshots/`name` (the pictures the README and docs show: refresh them that way after a change
 * to the pages); otherwise it stays in memory, so that a test run leaves the working tree as it was.
 */
export async function docsScreenshot(page: Page, name: string): Promise<void> {
  if (process.env.CINEPASS_SCREENSHOTS !== '1') {
    await page.screenshot({ fullPage: true })
    return
  }
  mkdirSync(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: join(SCREENSHOTS, name), fullPage: true })
}
