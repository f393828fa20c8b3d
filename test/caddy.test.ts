import { spawn, execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { temporaryDirectory } from '../src/test-support/fixtures.js'
import { postgresSkipReason } from '../src/test-support/postgres.js'
import { startProxiedPair, websiteFlowThroughProxy, type Cleanups, type StartProxy } from './support/reverse-proxy.js'

const EXAMPLE = fileURLToPath(new URL('../docs/examples/Caddyfile', import.meta.url))
const CADDY = ['/usr/bin/caddy', '/usr/local/bin/caddy'].find((path) => existsSync(path))

const skipReason = CADDY ? await postgresSkipReason('Caddy in front of two instances') : 'Caddy is not installed (apt-get install -y caddy)'
if (skipReason && process.env.CI) throw new Error(`Caddy in front of two instances: required in CI: ${skipReason}`)
if (skipReason && !CADDY) console.warn(`Caddy in front of two instances: skipped: ${skipReason}`)

const cleanups: Cleanups = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
}, 60_000)

/**
 * The example Caddyfile with this test's address, ports and log file, imported by a main Caddyfile that
 * turns off Caddy's admin endpoint (a fixed port, shared by every Caddy on the machine).
 */
function writeCaddyfile(folder: string, listen: number, instances: string[]): string {
  const example = readFileSync(EXAMPLE, 'utf8')
  const proxied = /^(\s*reverse_proxy) ((?:127\.0\.0\.1:\d+ ?)+) \{$/m.exec(example)
  expect(proxied?.[2]!.trim().split(' ')).toHaveLength(instances.length)
  const site = example
    // A plain http:// address: Caddy serves it as written, without getting a certificate.
    .replace(/^auth\.example\.com \{$/m, `http://127.0.0.1:${listen} {`)
    .replace(proxied![0], `${proxied![1]} ${instances.map((url) => new URL(url).host).join(' ')} {`)
    .replace('/var/log/caddy/cinepass-access.log', join(folder, 'access.log'))
  expect(site).not.toContain('example.com')
  writeFileSync(join(folder, 'cinepass.Caddyfile'), site)
  const path = join(folder, 'Caddyfile')
  writeFileSync(path, `{\n\tadmin off\n}\nimport ${join(folder, 'cinepass.Caddyfile')}\n`)
  return path
}

/** Caddy running the example Caddyfile in front of `instances`; its standard error is its error log. */
const startCaddy: StartProxy = (listen, instances, cleanups) => {
  const folder = temporaryDirectory('cinepass-caddy-')
  cleanups.push(folder.remove)
  const config = writeCaddyfile(folder.path, listen, instances)
  // Caddy keeps its state (certificates, the last config) under HOME and the XDG folders: a folder of its own.
  const env = { ...process.env, HOME: folder.path, XDG_DATA_HOME: join(folder.path, 'data'), XDG_CONFIG_HOME: join(folder.path, 'config') }
  execFileSync(CADDY!, ['validate', '--config', config, '--adapter', 'caddyfile'], { env, stdio: 'ignore' })
  const caddy = spawn(CADDY!, ['run', '--config', config, '--adapter', 'caddyfile'], { env, stdio: ['ignore', 'ignore', 'pipe'], detached: true })
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-caddy.pid!, signal)
    } catch {
      // Already gone.
    }
  }
  const killOnExit = () => killGroup('SIGKILL')
  process.once('exit', killOnExit)
  const errors: string[] = []
  caddy.stderr.on('data', (chunk: Buffer) => errors.push(chunk.toString()))
  const caddyExited = new Promise((resolve) => caddy.once('exit', resolve))
  cleanups.push(async () => {
    killGroup('SIGTERM')
    const timer = setTimeout(() => killGroup('SIGKILL'), 5_000)
    await caddyExited
    clearTimeout(timer)
    process.off('exit', killOnExit)
  })
  return Promise.resolve({
    accessLog: () => (existsSync(join(folder.path, 'access.log')) ? readFileSync(join(folder.path, 'access.log'), 'utf8') : ''),
    errorLog: () => errors.join(''),
  })
}

describe.skipIf(skipReason !== null)('Caddy (docs/examples/Caddyfile) in front of two instances on one PostgreSQL', () => {
  it('a website sign-in, approval and session work through Caddy while requests alternate between the instances', async () => {
    const pair = await startProxiedPair(startCaddy, cleanups)
    const secrets = await websiteFlowThroughProxy(pair, 'Caddy')

    // The example's access log keeps the paths and leaves out query strings, headers and the request
    // token of the website's paths.
    const accessLog = pair.proxy.accessLog()
    expect(accessLog).toContain('"uri":"/3/account"')
    expect(accessLog).toContain('"uri":"/authenticate//allow"')
    expect(accessLog).not.toContain('"headers"')
    for (const secret of secrets) expect(accessLog).not.toContain(secret)
  }, 90_000)
})
