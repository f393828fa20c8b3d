import { execFile } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, temporaryDirectory, type TestServer } from '../test-support/fixtures.js'

const run = promisify(execFile)
const ROOT = join(import.meta.dirname, '..', '..')
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')

let server: TestServer
const project = temporaryDirectory('cinepass-client-user-')

beforeAll(async () => {
  server = await startTestServer()
  // The package exactly as npm would publish it (dist is built by `npm test` before the tests run).
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', project.path], { cwd: ROOT })
  const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }]
  writeFileSync(join(project.path, 'package.json'), JSON.stringify({ name: 'client-user', private: true, type: 'module' }))
  // Install scripts are skipped: the client needs none (the server's native modules are not used here).
  await run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', join(project.path, filename)], {
    cwd: project.path,
    timeout: 240_000,
  })
}, 300_000)
afterAll(async () => {
  await (server as TestServer | undefined)?.stop() // undefined when beforeAll failed before assigning it
  project.remove()
})

const FLOW = `
const api = new AuthenticationApi({ baseUrl: process.env.BASE + '/3', apiKey: process.env.API_KEY })
const { request_token } = await api.getNewAuthenticationToken()
await api.getValidateAuthenticationTokenWithLogin(process.env.USERNAME_, process.env.PASSWORD_, request_token)
const { session_id } = await api.getNewAuthenticationSession(request_token)
const account = await api.getAccountDetails(session_id)
await api.deleteAuthenticationSession(session_id)
let code = null
try { await api.getAccountDetails(session_id) } catch (error) { if (error instanceof TmdbError) code = error.statusCode }
console.log(JSON.stringify({ username: account.username, afterLogout: code }))
`

describe('cinepass/client as a user installs it', () => {
  it('ships dist/client with no runtime imports outside itself', () => {
    const dir = join(project.path, 'node_modules', 'cinepass', 'dist', 'client')
    const files = readdirSync(dir).filter((name) => name.endsWith('.js'))
    expect(files.sort()).toEqual(['authentication-api.js', 'errors.js', 'index.js', 'shapes.js'])
    for (const file of files) {
      const specifiers = [...readFileSync(join(dir, file), 'utf8').matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((match) => match[1])
      expect(
        specifiers.every((specifier) => specifier?.startsWith('./')),
        `${file}: ${specifiers.join(', ')}`,
      ).toBe(true)
    }
  })

  it('runs the login flow from plain ESM JavaScript', async () => {
    writeFileSync(join(project.path, 'flow.mjs'), `import { AuthenticationApi, TmdbError } from 'cinepass/client'\n${FLOW}`)
    const env = {
      ...process.env,
      BASE: server.base,
      API_KEY: server.application.apiKey,
      USERNAME_: server.user.username,
      PASSWORD_: server.user.password,
    }
    const { stdout } = await run(process.execPath, ['flow.mjs'], { cwd: project.path, env })
    expect(JSON.parse(stdout)).toEqual({ username: server.user.username, afterLogout: 3 })
  }, 60_000)

  it('type-checks from TypeScript (tsc --noEmit, no @types/node), and rejects a misuse', async () => {
    const typed = `import { AuthenticationApi, TmdbError, type SessionResponse, type TokenResponseWithExpiration } from 'cinepass/client'
const api = new AuthenticationApi({ apiKey: 'key', retry: { retries: 2, maxDelayMs: 5000 }, timeoutMs: 10000 })
export async function login(username: string, password: string): Promise<string> {
  const token: TokenResponseWithExpiration = await api.getNewAuthenticationToken()
  await api.getValidateAuthenticationTokenWithLogin(username, password, token.request_token)
  const session: SessionResponse = await api.getNewAuthenticationSession(token.request_token)
  return session.session_id
}
export function describeError(error: unknown): string {
  return error instanceof TmdbError ? \`\${error.httpStatus} \${error.statusCode ?? ''} \${error.retryAfter ?? ''}\` : 'other'
}
export const url: string = api.approveUrl('t')
`
    writeFileSync(join(project.path, 'app.ts'), typed)
    writeFileSync(
      join(project.path, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'], strict: true, types: [], noEmit: true },
        files: ['app.ts'],
      }),
    )
    await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: project.path })

    writeFileSync(join(project.path, 'app.ts'), `${typed}\nexport const wrong: number = (await api.getNewAuthenticationSession('t')).session_id\n`)
    const failed = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: project.path }).then(
      () => null,
      (error: { stdout: string }) => error.stdout,
    )
    expect(failed).toContain("Type 'string' is not assignable to type 'number'")
  }, 120_000)
})
