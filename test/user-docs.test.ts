import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// What users read: the README, the changelog, docs/ and the text cinepass serves (its OpenAPI document,
// /docs and the website's pages). None of it may speak of the project's internal notes, which a user
// cannot open: issue numbers, notes by file name, threat ids, "the seed", numbered work sessions.
const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const servedText = ['src/http/openapi.ts', 'src/http/docs-routes.ts', 'src/web/pages.ts']

const INTERNAL = [
  /\bissues? #?\d+/i,
  /\b(wire|security|style)\.md\b/i,
  /\bthe seed\b|\bseed's\b/i,
  /\bT\d{1,2}\b/,
  /\b(first|second|third|fourth|fifth|sixth|seventh|eighth|this|that|previous|next) session\b(?! (cookie|id|token))/i,
  /\bstop \d+\b/i,
]

function filesUnder(folder: string): string[] {
  return readdirSync(folder).flatMap((entry) => {
    const path = join(folder, entry)
    return statSync(path).isDirectory() ? filesUnder(path) : [path]
  })
}

/** Every line of `file` that names something internal, as `file:line: text`. */
export function internalReferences(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line, index) => (INTERNAL.some((pattern) => pattern.test(line)) ? [`${relative(repositoryRoot, file)}:${index + 1}: ${line.trim()}`] : []))
}

describe("users' documentation", () => {
  it('README, CHANGELOG, docs/ and the served text name no issue, internal note or work session', () => {
    const files = [
      ...['README.md', 'CHANGELOG.md'].map((file) => join(repositoryRoot, file)),
      ...filesUnder(join(repositoryRoot, 'docs')).filter((file) => !/\.(png|svg)$/.test(file)),
      ...servedText.map((file) => join(repositoryRoot, file)).filter((file) => existsSync(file)),
    ]
    expect(files.length).toBeGreaterThan(5)
    expect(files.flatMap(internalReferences)).toEqual([])
  })

  it('the check finds an internal reference (it can fail)', () => {
    const lines = ['see issue 7', 'as wire.md says', "the seed's AuthenticationApi", 'security T24', 'in the fourth session', 'a session cookie']
    expect(lines.filter((line) => INTERNAL.some((pattern) => pattern.test(line)))).toEqual(lines.slice(0, 5))
  })

  it('LICENSE is the MIT license package.json names', () => {
    const manifest = JSON.parse(readFileSync(join(repositoryRoot, 'package.json'), 'utf8')) as { license: string }
    expect(manifest.license).toBe('MIT')
    const license = readFileSync(join(repositoryRoot, 'LICENSE'), 'utf8')
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} cinepass contributors\n/)
    expect(license).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND')
  })
})
