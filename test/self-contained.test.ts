import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// A fresh clone has nothing beside it: no source, test, benchmark or doc may name a path outside the
// repository, or `npm test` passes only on machines that happen to have that path.
const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const scannedFolders = ['src', 'test', 'bench', 'docs', '.ci']
const scannedRootFiles = ['README.md', 'package.json', 'vitest.config.ts']
const scannedExtension = /\.(ts|cts|mts|js|cjs|mjs|json|md|lua|conf|sh)$|^run$/

function filesUnder(folder: string): string[] {
  const files: string[] = []
  for (const entry of readdirSync(folder)) {
    const path = join(folder, entry)
    if (statSync(path).isDirectory()) files.push(...filesUnder(path))
    else if (scannedExtension.test(entry)) files.push(path)
  }
  return files
}

function scannedFiles(root: string): string[] {
  return [...scannedFolders.flatMap((folder) => filesUnder(join(root, folder))), ...scannedRootFiles.map((file) => join(root, file))]
}

// The work folders of the machines this project is built on, and the team's notes beside the
// repository; spelled in pieces so that this file does not name them itself.
const MACHINE_PATHS = new RegExp(`/${'work'}/[\\w.-]+|${['shared', 'reference'].join('/')}`, 'g')

/** Every relative path a file names (one or more parent steps, then a name) that resolves outside `root`, and every
 * absolute path into the machine's work folders; one line per finding, `file:line: text`. */
export function pathsOutside(root: string, file: string, text = readFileSync(file, 'utf8')): string[] {
  const findings: string[] = []
  const lines = text.split('\n')
  lines.forEach((line, index) => {
    const where = `${relative(root, file)}:${index + 1}`
    for (const match of line.matchAll(/(?:^|[\s'"`(=:,[])((?:\.\.\/)+[\w.@-][^\s'"`),\]]*)/g)) {
      const target = resolve(dirname(file), match[1]!)
      if (target !== root && !target.startsWith(root + sep)) findings.push(`${where}: ${match[1]}`)
    }
    for (const match of line.matchAll(MACHINE_PATHS)) findings.push(`${where}: ${match[0]}`)
  })
  return findings
}

describe('the repository is self-contained', () => {
  it('no source, test, benchmark, script or doc names a path outside the repository', () => {
    const findings = scannedFiles(repositoryRoot).flatMap((file) => pathsOutside(repositoryRoot, file))
    expect(findings).toEqual([])
  })

  it('the check finds a path that leaves the repository (it can fail)', () => {
    // Made here rather than written out, so that this file itself names no such path.
    const upAndOut = ['..', '..', 'shared', 'x.json'].join('/')
    const machinePath = ['', 'work', 'elsewhere'].join('/')
    const text = [`const a = '${upAndOut}'`, `const b = '${machinePath}'`, `import c from '../src/server.js'`].join('\n')
    const findings = pathsOutside(repositoryRoot, fileURLToPath(import.meta.url), text)
    expect(findings).toEqual([`test/self-contained.test.ts:1: ${upAndOut}`, `test/self-contained.test.ts:2: ${machinePath}`])
  })
})
