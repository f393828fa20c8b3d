import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { JSON_CONTENT_TYPE } from '../wire/types.js'
import { openApiDocument } from './openapi.js'
import type { RoutePlugin } from './routes.js'

// The reference page runs Swagger UI's bundle from node_modules: no CDN, no inline script or style.
// Its stylesheet draws icons as data: images; its "Try it out" calls this origin.
const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

const ASSETS: Record<string, { file: string; type: string }> = {
  'swagger-ui.css': { file: 'swagger-ui.css', type: 'text/css; charset=utf-8' },
  'swagger-ui-bundle.js': { file: 'swagger-ui-bundle.js', type: 'text/javascript; charset=utf-8' },
}

const INIT_SCRIPT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({ url: '../openapi.json', dom_id: '#swagger-ui', deepLinking: true })
})
`

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cinepass API reference</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`

export interface DocsRoutesOptions {
  /** The URL users reach this server at, without a trailing slash, read at request time (the document's `servers`). */
  publicUrl: () => string
}

/** `GET /openapi.json` (cinepass's OpenAPI 3.1 document) and `GET /docs` (Swagger UI rendering it). */
export const docsRoutes: RoutePlugin<DocsRoutesOptions> = (app, options) => {
  const assetsDir = swaggerUiDirectory()
  const loaded = new Map<string, Promise<Buffer>>()

  app.get('/openapi.json', async (_request, reply) =>
    reply
      .header('content-type', JSON_CONTENT_TYPE)
      .header('access-control-allow-origin', '*')
      .header('cache-control', 'no-cache')
      // Read at request time: a server started on port 0 learns its public URL after listening.
      .send(JSON.stringify(openApiDocument(options.publicUrl()))),
  )

  app.get('/docs', async (_request, reply) => reply.header('content-security-policy', DOCS_CSP).type('text/html; charset=utf-8').send(PAGE))
  app.get('/docs/init.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(INIT_SCRIPT))

  app.get('/docs/:asset', async (request, reply) => {
    const asset = ASSETS[(request.params as { asset: string }).asset]
    if (!asset) return reply.callNotFound()
    let content = loaded.get(asset.file)
    if (!content) {
      content = readFile(join(assetsDir, asset.file))
      loaded.set(asset.file, content)
    }
    return reply
      .type(asset.type)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'public, max-age=3600')
      .send(await content)
  })
}

function swaggerUiDirectory(): string {
  // The package's folder, without loading its index (which would run the browser bundle in Node).
  return dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))
}
