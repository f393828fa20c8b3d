import { Ajv2020 } from 'ajv/dist/2020.js'
import { execFile } from 'node:child_process'
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { temporaryDirectory } from '../src/test-support/fixtures.js'
import { runInGroup } from '../src/test-support/run-group.js'
import { freePort } from './support/processes.js'

const run = promisify(execFile)
const ROOT = join(import.meta.dirname, '..')
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
const project = temporaryDirectory('cinepass-kit-user-')
const installed = join(project.path, 'node_modules')
// The runners of docs/testing.md's examples, at versions known to work; the user's project has them anyway.
const RUNNERS = ['jest@30.5.2', '@playwright/test@1.65.1', '@types/node@20']

beforeAll(async () => {
  // The package exactly as npm would publish it (dist is built by `npm test` before the tests run).
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', project.path], { cwd: ROOT })
  const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }]
  writeFileSync(join(project.path, 'package.json'), JSON.stringify({ name: 'tmdb-client-tests', private: true, type: 'module' }))
  // Install scripts are skipped, and better-sqlite3's native module (the one piece they build) is
  // provided below: its prebuilt binaries are downloaded from GitHub, not the npm registry, and
  // building it from source takes minutes on two cores.
  await run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', join(project.path, filename), ...RUNNERS], {
    cwd: project.path,
    timeout: 400_000,
  })
  const version = (dir: string): string => (JSON.parse(readFileSync(join(dir, 'better-sqlite3', 'package.json'), 'utf8')) as { version: string }).version
  const ours = join(ROOT, 'node_modules', 'better-sqlite3', 'build')
  if (existsSync(ours) && version(join(ROOT, 'node_modules')) === version(installed)) {
    // The same version built for this Node already: the build would make the same file.
    cpSync(ours, join(installed, 'better-sqlite3', 'build'), { recursive: true })
  } else {
    await run('npm', ['rebuild', 'better-sqlite3'], { cwd: project.path, timeout: 600_000 })
  }
  cpSync(join(ROOT, 'docs', 'examples', 'testing'), project.path, { recursive: true })
}, 1_000_000)
afterAll(() => project.remove())

describe('cinepass/testing as a user installs it', () => {
  it('ships the testing entry point, the fixtures schema and types, and no test file', () => {
    const pkg = join(installed, 'cinepass')
    for (const file of ['dist/testing/index.js', 'dist/testing/index.d.ts', 'schemas/fixtures.schema.json'])
      expect(existsSync(join(pkg, file)), file).toBe(true)
    expect(existsSync(join(pkg, 'dist', 'testing', 'testing.test.js'))).toBe(false)
    expect(existsSync(join(pkg, 'dist', 'test-support'))).toBe(false)
  })

  it('resolves cinepass/fixtures.schema.json, and the examples\' fixtures (with "$schema" pointing at it) match it', async () => {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', "console.log(import.meta.resolve('cinepass/fixtures.schema.json'))"], {
      cwd: project.path,
    })
    expect(stdout.trim()).toMatch(/node_modules\/cinepass\/schemas\/fixtures\.schema\.json$/)
    const fixtures = JSON.parse(readFileSync(join(project.path, 'fixtures.json'), 'utf8')) as { $schema: string }
    const schema = JSON.parse(readFileSync(join(project.path, fixtures.$schema), 'utf8')) as object
    const matches = new Ajv2020({ strict: true }).compile(schema)
    expect(matches(fixtures), JSON.stringify(matches.errors)).toBe(true)
  })

  it('runs the node:test example', async () => {
    const result = await runInGroup(process.execPath, ['--test', 'node-test/'], { cwd: project.path, timeoutMs: 60_000 })
    expect(result.code, result.output).toBe(0)
    expect(result.output).toContain('# pass 4')
  }, 70_000)

  it('runs the jest example (ES modules)', async () => {
    const result = await runInGroup(process.execPath, [join(installed, 'jest', 'bin', 'jest.js'), '--config', 'jest/jest.config.mjs'], {
      cwd: project.path,
      env: { NODE_OPTIONS: '--experimental-vm-modules' },
      timeoutMs: 120_000,
    })
    expect(result.code, result.output).toBe(0)
    expect(result.output).toMatch(/Tests:\s+2 passed/)
  }, 130_000)

  it('runs the Playwright example with its global setup', async () => {
    const result = await runInGroup(
      process.execPath,
      [join(installed, '@playwright', 'test', 'cli.js'), 'test', '--config', 'playwright/playwright.config.mjs'],
      {
        cwd: project.path,
        env: { CI: '1' },
        timeoutMs: 120_000,
      },
    )
    expect(result.code, result.output).toBe(0)
    expect(result.output).toContain('1 passed')
  }, 130_000)

  it('runs the CI recipe: cinepass serve in the background with the fixtures and --auto-approve, then the tests', async () => {
    const port = await freePort()
    const result = await runInGroup('bash', ['ci/run-tests.sh'], { cwd: project.path, env: { CINEPASS_PORT: String(port) }, timeoutMs: 90_000 })
    expect(result.code, `${result.output}\n${readFileSync(join(project.path, 'cinepass.log'), 'utf8')}`).toBe(0)
    expect(result.output).toContain('# pass 2')
  }, 100_000)

  it('type-checks a TypeScript user of cinepass/testing, and rejects a misuse', async () => {
    const typed = `import { startTestServer, FixtureError, type Fixtures, type TestServer } from 'cinepass/testing'
const fixtures: Fixtures = { apps: [{ name: 'App', api_key: '00000000000000000000000000c1e7a5' }], users: [{ username: 'alice', password: 'alice-password', disabled: false }] }
export async function check(): Promise<string> {
  await using cp: TestServer = await startTestServer({ fixtures })
  cp.failNext({ path: '/3/authentication/token/new', status: 429, code: 25, times: 2 })
  cp.clock.advance(1000)
  await cp.approve('token', cp.users[0]?.username)
  await cp.deny('token')
  return \`\${cp.url} \${cp.apiKey} \${cp.readAccessToken}\`
}
export const isFixtureError = (error: unknown): boolean => error instanceof FixtureError
`
    writeFileSync(join(project.path, 'typed.ts'), typed)
    writeFileSync(
      join(project.path, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022'], types: ['node'], strict: true, noEmit: true },
        files: ['typed.ts'],
      }),
    )
    await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: project.path })
    writeFileSync(join(project.path, 'typed.ts'), `${typed}\nexport const wrong: Fixtures = { users: [{ username: 'bob' }] }\n`)
    const failed = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: project.path }).then(
      () => null,
      (error: { stdout: string }) => error.stdout,
    )
    expect(failed).toContain("Property 'password' is missing")
  }, 120_000)
})
