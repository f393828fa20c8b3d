import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { findImportCycles } from './test-support/import-graph.js'
import { temporaryDirectory } from './test-support/fixtures.js'

const SRC = dirname(fileURLToPath(import.meta.url))

describe('import circles', () => {
  it('src/ has no import circle', () => {
    expect(findImportCycles(SRC)).toEqual([])
  })

  describe('findImportCycles()', () => {
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

    it('finds a circle of two files, however the import is written', () => {
      const root = tree({
        'http/app.ts': "import { apiRoute } from './routes.js'\nexport const app = apiRoute\n",
        'http/routes.ts': "import type {\n  App,\n} from './app.js'\nexport const apiRoute = 1\n",
        'leaf.ts': 'export const leaf = 1\n',
      })
      expect(findImportCycles(root)).toEqual([['http/app.ts', 'http/routes.ts']])
    })

    it('finds a circle through a re-export, a dynamic import and a folder, and a file importing itself', () => {
      const root = tree({
        'a.ts': "export { b } from './b/index.js'\n",
        'b/index.ts': "export const b = () => import('../c.js')\n",
        'c.ts': "import '../tree/a.js'\nimport './a.js'\n",
        'self.ts': "import { x } from './self.js'\nexport const x = 1\n",
      })
      expect(findImportCycles(root)).toEqual([['a.ts', 'b/index.ts', 'c.ts'], ['self.ts']])
    })

    it('finds none where the imports run one way, or where the only import back is in a comment or a string', () => {
      const root = tree({
        'wire.ts': "// import { core } from './core.js'\n/* import './core.js' */\nexport const text = \"import './core.js'\"\n",
        'core.ts': "import { text } from './wire.js'\nimport { readFileSync } from 'node:fs'\nexport const core = [text, readFileSync]\n",
        'http.ts': "import { core } from './core.js'\nimport { text } from './wire.js'\nexport const http = [core, text]\n",
      })
      expect(findImportCycles(root)).toEqual([])
    })
  })
})
