import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseCircular, parseDependencyTree } from 'dpdm'
import { afterEach, describe, expect, it } from 'vitest'
import { temporaryDirectory } from './test-support/fixtures.js'

const SRC = dirname(fileURLToPath(import.meta.url))
// dpdm resolves `./x.js` to `./x.ts` only through TypeScript's module resolution, which needs the options.
const TSCONFIG = join(SRC, '..', 'tsconfig.json')

/**
 * Every import circle among the TypeScript files under `root`, one list of files (relative to
 * `root`) per circle, sorted. Type-only imports and dynamic `import()`s count: a circle of types still
 * ties two modules' meaning together. `./x.js` resolves to `./x.ts`, as NodeNext TypeScript writes it.
 */
async function importCycles(root: string): Promise<string[][]> {
  const tree = await parseDependencyTree([join(root, '**/*.ts'), join(root, '**/*.cts')], {
    context: root,
    tsconfig: TSCONFIG,
    extensions: ['.ts', '.cts', '.js'],
    transform: false,
    skipDynamicImports: false,
  })
  // A relative import left unresolved would hide any circle through it: the check must see every edge.
  const unresolved = Object.values(tree).flatMap((edges) => (edges ?? []).filter((edge) => edge.request.startsWith('.') && edge.id === null))
  if (unresolved.length > 0) throw new Error(`unresolved imports: ${unresolved.map((edge) => `${edge.issuer} -> ${edge.request}`).join(', ')}`)
  const cycles = parseCircular(tree).map((cycle) => [...cycle].sort())
  return [...new Map(cycles.map((cycle) => [cycle.join('\n'), cycle])).values()].sort((a, b) => a.join().localeCompare(b.join()))
}

describe('import circles', () => {
  it('src/ has no import circle', async () => {
    expect(await importCycles(SRC)).toEqual([])
  })

  describe('the check', () => {
    let dir: ReturnType<typeof temporaryDirectory> | undefined
    afterEach(() => dir?.remove())

    function tree(files: Record<string, string>): string {
      dir = temporaryDirectory('cinepass-import-graph-')
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(dirname(join(dir.path, path)), { recursive: true })
        writeFileSync(join(dir.path, path), text)
      }
      return dir.path
    }

    it('finds a circle of two files, through a type-only import written over several lines', async () => {
      const root = tree({
        'http/app.ts': "import { apiRoute } from './routes.js'\nexport const app = apiRoute\n",
        'http/routes.ts': "import type {\n  App,\n} from './app.js'\nexport const apiRoute = 1\nexport type R = App\n",
        'leaf.ts': 'export const leaf = 1\n',
      })
      expect(await importCycles(root)).toEqual([['http/app.ts', 'http/routes.ts']])
    })

    it('finds a circle through a re-export and a dynamic import', async () => {
      const root = tree({
        'a.ts': "export { b } from './b/index.js'\n",
        'b/index.ts': "export const b = () => import('../c.js')\n",
        'c.ts': "import { b } from './a.js'\nexport const c = b\n",
      })
      expect(await importCycles(root)).toEqual([['a.ts', 'b/index.ts', 'c.ts']])
    })

    it('finds none where the imports run one way, or where the only import back is in a comment or a string', async () => {
      const root = tree({
        'wire.ts': "// import { core } from './core.js'\n/* import './core.js' */\nexport const text = \"import './core.js'\"\n",
        'core.ts': "import { text } from './wire.js'\nimport { readFileSync } from 'node:fs'\nexport const core = [text, readFileSync]\n",
        'http.ts': "import { core } from './core.js'\nimport { text } from './wire.js'\nexport const http = [core, text]\n",
      })
      expect(await importCycles(root)).toEqual([])
    })
  })
})
