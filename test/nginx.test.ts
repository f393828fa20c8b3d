import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { temporaryDirectory } from '../src/test-support/fixtures.js'
import { postgresSkipReason } from '../src/test-support/postgres.js'
import { rollingRestartThroughProxy, startProxiedPair, websiteFlowThroughProxy, type Cleanups, type StartProxy } from './support/reverse-proxy.js'

const EXAMPLE = fileURLToPath(new URL('../docs/examples/nginx-cinepass.conf', import.meta.url))
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((path) => existsSync(path))

const skipReason = NGINX ? await postgresSkipReason('nginx in front of two instances') : 'nginx is not installed (apt-get install -y nginx)'
if (skipReason && process.env.CI) throw new Error(`nginx in front of two instances: required in CI: ${skipReason}`)
if (skipReason && !NGINX) console.warn(`nginx in front of two instances: skipped: ${skipReason}`)

const cleanups: Cleanups = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
}, 60_000)

/** The example config with this test's ports, inside a minimal main config of a temporary prefix. */
function writeNginxConfig(prefix: string, listen: number, instances: string[]): string {
  const example = readFileSync(EXAMPLE, 'utf8')
  const upstreams = [...example.matchAll(/^\s*server (127\.0\.0\.1:\d+)[ ;]/gm)]
  expect(upstreams).toHaveLength(instances.length)
  let site = example
    .replace(/^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${listen};`)
    .replace('/var/log/nginx/cinepass-access.log', join(prefix, 'logs/access.log'))
  instances.forEach((url, index) => (site = site.replace(upstreams[index]![1]!, new URL(url).host)))
  for (const dir of ['tmp', 'logs']) {
    mkdirSync(join(prefix, dir), { recursive: true })
    // As root, nginx workers run as an unprivileged user that needs these.
    chmodSync(join(prefix, dir), 0o777)
  }
  chmodSync(prefix, 0o755)
  writeFileSync(join(prefix, 'cinepass.conf'), site)
  const main = `
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
worker_processes 1;
events { worker_connections 256; }
http {
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  include ${prefix}/cinepass.conf;
}
`
  const path = join(prefix, 'nginx.conf')
  writeFileSync(path, main)
  return path
}

/** nginx running the example config in front of `instances`. */
const startNginx: StartProxy = (listen, instances, cleanups) => {
  const prefix = temporaryDirectory('cinepass-nginx-')
  cleanups.push(prefix.remove)
  const config = writeNginxConfig(prefix.path, listen, instances)
  execFileSync(NGINX!, ['-t', '-q', '-p', prefix.path, '-c', config])
  const nginx: ChildProcess = spawn(NGINX!, ['-p', prefix.path, '-c', config, '-g', 'daemon off;'], { stdio: 'ignore' })
  const nginxExited = new Promise((resolve) => nginx.once('exit', resolve))
  cleanups.push(async () => {
    nginx.kill('SIGQUIT')
    await nginxExited
  })
  const logs = join(prefix.path, 'logs')
  return Promise.resolve({
    accessLog: () => readFileSync(join(logs, 'access.log'), 'utf8'),
    errorLog: () => readFileSync(join(logs, 'error.log'), 'utf8'),
  })
}

describe.skipIf(skipReason !== null)('nginx (docs/examples/nginx-cinepass.conf) in front of two instances on one PostgreSQL', () => {
  it('a website sign-in, approval and session work through nginx while requests alternate between the instances', async () => {
    const pair = await startProxiedPair(startNginx, cleanups)
    const secrets = await websiteFlowThroughProxy(pair, 'nginx')

    // The example's access log keeps the paths and leaves out the query strings that carry secrets.
    const accessLog = pair.proxy.accessLog()
    expect(accessLog).toContain('"GET /3/account"')
    expect(accessLog).toContain('"POST /authenticate/[REDACTED]/allow"')
    for (const secret of secrets) expect(accessLog).not.toContain(secret)
  }, 90_000)

  it('a rolling restart of both instances (SIGTERM, start again on the same port) drops no request', async () => {
    const pair = await startProxiedPair(startNginx, cleanups)
    // On failure, nginx's own account of it (refused connects to a stopped instance are expected).
    const nginxErrors = () =>
      pair.proxy
        .errorLog()
        .split('\n')
        .filter((line) => line && !/Connection refused|temporarily disabled/.test(line))
        .join('\n')
    await rollingRestartThroughProxy(pair, 'nginx', nginxErrors)
  }, 120_000)
})
