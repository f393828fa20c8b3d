import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { temporaryDirectory } from '../src/test-support/fixtures.js'

const EXAMPLE = fileURLToPath(new URL('../docs/examples/cinepass.service', import.meta.url))
const ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((path) => existsSync(path))
if (!ANALYZE) console.warn('docs/examples/cinepass.service: skipped: systemd-analyze is not installed (apt-get install -y systemd)')

const folder = temporaryDirectory('cinepass-unit-')
afterAll(folder.remove)

/** The example unit with its ExecStart pointing at this machine's node (verify wants an executable there). */
function unitHere(): string {
  const unit = readFileSync(EXAMPLE, 'utf8')
  expect(unit).toMatch(/^ExecStart=\/opt\/cinepass\/dist\/cli\/cinepass\.cjs serve$/m)
  const path = join(folder.path, 'cinepass.service')
  writeFileSync(path, unit.replace(/^ExecStart=\S+/m, `ExecStart=${process.execPath}`))
  return path
}

function analyze(args: string[]): { status: number | null; output: string } {
  const run = spawnSync(ANALYZE!, args, { encoding: 'utf8', timeout: 30_000 })
  return { status: run.status, output: `${run.stdout}${run.stderr}` }
}

describe('the example systemd unit (docs/examples/cinepass.service)', () => {
  it('runs in production, as its own user, with a private data folder and a umask that keeps files private', () => {
    const unit = readFileSync(EXAMPLE, 'utf8')
    for (const line of [
      'Environment=NODE_ENV=production',
      'User=cinepass',
      'StateDirectory=cinepass',
      'StateDirectoryMode=0700',
      'UMask=0077',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
    ]) {
      expect(unit.split('\n')).toContain(line)
    }
    // The database lives in the state folder, the one place the service may write.
    expect(unit).toMatch(/^Environment=CINEPASS_DATABASE=\/var\/lib\/cinepass\//m)
  })

  it.skipIf(!ANALYZE)('systemd-analyze verify finds nothing to say about it', () => {
    expect(analyze(['verify', unitHere()])).toEqual({ status: 0, output: '' })
  })

  it.skipIf(!ANALYZE)('systemd-analyze security rates its exposure at most 2.0 of 10', () => {
    const { status, output } = analyze(['security', '--offline=yes', '--no-pager', unitHere()])
    expect(status, output).toBe(0)
    const exposure = /Overall exposure level for cinepass\.service: (\d+\.\d+)/.exec(output)
    expect(exposure, output).not.toBeNull()
    expect(Number(exposure![1])).toBeLessThanOrEqual(2)
  })
})
