import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

// `import … from '…'`, `export … from '…'` (also `import type`, over several lines) and `import '…'`,
// each at the start of a line; and `import('…')` with a literal anywhere.
const STATIC_IMPORT = /^[ \t]*(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]|^[ \t]*import\s*['"]([^'"]+)['"]/gm
const DYNAMIC_IMPORT = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g
const SOURCE = /\.(?:ts|mts|cts)$/

/**
 * The TypeScript files under `root` (recursively) and, for each, the files under `root` it imports
 * by a relative specifier: static imports and re-exports (type-only ones included: a circle of types
 * still ties the modules' meaning together) and dynamic `import('…')` with a literal. `./x.js` is
 * resolved to `./x.ts` (and `.cjs`/`.mjs` to `.cts`/`.mts`), as NodeNext TypeScript writes them.
 * Keys and values are paths relative to `root`, with `/`.
 */
export function importGraph(root: string): Map<string, string[]> {
  const graph = new Map<string, string[]>()
  for (const file of sourceFiles(root)) {
    const text = withoutComments(readFileSync(file, 'utf8'))
    const targets = new Set<string>()
    for (const match of text.matchAll(STATIC_IMPORT)) addTarget(targets, root, file, match[1] ?? match[2])
    for (const match of text.matchAll(DYNAMIC_IMPORT)) addTarget(targets, root, file, match[1])
    graph.set(posix(relative(root, file)), [...targets].sort())
  }
  return graph
}

/**
 * Every import circle among the files under `root`: one list of files per strongly connected group
 * of two or more files (or one file that imports itself), each sorted, the groups sorted. Empty when
 * there is none.
 */
export function findImportCycles(root: string): string[][] {
  const graph = importGraph(root)
  // Tarjan's strongly connected components, iterative so that a deep import chain cannot overflow.
  const index = new Map<string, number>()
  const lowLink = new Map<string, number>()
  const onStack = new Set<string>()
  const stack: string[] = []
  const cycles: string[][] = []
  let counter = 0
  for (const start of graph.keys()) {
    if (index.has(start)) continue
    const work: { node: string; next: number }[] = [{ node: start, next: 0 }]
    index.set(start, counter)
    lowLink.set(start, counter++)
    stack.push(start)
    onStack.add(start)
    while (work.length > 0) {
      const frame = work[work.length - 1]!
      const edges = graph.get(frame.node) ?? []
      if (frame.next < edges.length) {
        const target = edges[frame.next++]!
        if (!index.has(target)) {
          index.set(target, counter)
          lowLink.set(target, counter++)
          stack.push(target)
          onStack.add(target)
          work.push({ node: target, next: 0 })
        } else if (onStack.has(target)) {
          lowLink.set(frame.node, Math.min(lowLink.get(frame.node)!, index.get(target)!))
        }
        continue
      }
      work.pop()
      const parent = work[work.length - 1]
      if (parent) lowLink.set(parent.node, Math.min(lowLink.get(parent.node)!, lowLink.get(frame.node)!))
      if (lowLink.get(frame.node) !== index.get(frame.node)) continue
      const group: string[] = []
      let member: string
      do {
        member = stack.pop()!
        onStack.delete(member)
        group.push(member)
      } while (member !== frame.node)
      if (group.length > 1 || edges.includes(frame.node)) cycles.push(group.sort())
    }
  }
  return cycles.sort((a, b) => a[0]!.localeCompare(b[0]!))
}

function sourceFiles(directory: string): string[] {
  const files: string[] = []
  for (const entry of readdirSync(directory).sort()) {
    const path = join(directory, entry)
    if (statSync(path).isDirectory()) files.push(...sourceFiles(path))
    else if (SOURCE.test(entry) && !entry.endsWith('.d.ts')) files.push(path)
  }
  return files
}

function addTarget(targets: Set<string>, root: string, from: string, specifier: string | undefined): void {
  if (specifier === undefined || !specifier.startsWith('.')) return
  const base = resolve(dirname(from), specifier)
  const candidates = [base.replace(/\.js$/, '.ts').replace(/\.mjs$/, '.mts').replace(/\.cjs$/, '.cts'), base, `${base}.ts`, join(base, 'index.ts')]
  const found = candidates.find((candidate) => SOURCE.test(candidate) && existsSync(candidate) && statSync(candidate).isFile())
  if (found && !relative(root, found).startsWith('..')) targets.add(posix(relative(root, found)))
}

// Comments are blanked (line breaks kept) so that an import quoted in a comment does not count.
// Strings and template literals are skipped over whole, so a `//` inside one is not a comment.
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|`(?:\\[\s\S]|[^`\\])*`/g, (token) =>
    token.startsWith('/') ? token.replace(/[^\n]/g, ' ') : token,
  )
}

function posix(path: string): string {
  return path.split('\\').join('/')
}
