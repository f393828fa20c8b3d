import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runInGroup } from '../test-support/run-group.js'

// The examples import 'cinepass/testing' by the package's own name, which Node resolves to this
// repository's `exports` (dist: `npm run build` first; `npm test` does). test/testing-package.test.ts
// runs them again, with jest, Playwright and the CI recipe, in a project that installed the packed package.
const ROOT = join(import.meta.dirname, '..', '..')
const EXAMPLES = join(ROOT, 'docs', 'examples', 'testing')

describe('docs/testing.md examples, run from the repository', () => {
  it('the node:test example passes', async () => {
    const run = await runInGroup(process.execPath, ['--test', join(EXAMPLES, 'node-test')], { cwd: ROOT, timeoutMs: 60_000 })
    expect(run.code, run.output).toBe(0)
    expect(run.output).toContain('# pass 4')
  }, 70_000)

  it('the vitest example passes', async () => {
    const run = await runInGroup(process.execPath, [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run'], {
      cwd: join(EXAMPLES, 'vitest'),
      timeoutMs: 60_000,
    })
    expect(run.code, run.output).toBe(0)
    expect(run.output).toMatch(/Tests\s.*2 passed/)
  }, 70_000)

  it('docs/testing.md shows every example file as it is', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'testing.md'), 'utf8')
    for (const file of [
      'node-test/login.test.mjs',
      'vitest/login.test.ts',
      'jest/login.test.mjs',
      'playwright/global-setup.mjs',
      'ci/run-tests.sh',
      'fixtures.json',
    ]) {
      expect(doc, file).toContain(`docs/examples/testing/${file}`)
      // The doc quotes the file whole, so that what readers copy is what the tests run.
      expect(doc, file).toContain(readFileSync(join(EXAMPLES, file), 'utf8').trim())
    }
  })
})
