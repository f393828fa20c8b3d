import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import { openApiDocument } from '../http/openapi.js'

type Json = Record<string, any>

// ajv-formats is CommonJS; its default export arrives as the module object under NodeNext.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => void

const SCHEMAS_ID = 'urn:cinepass:openapi-schemas'

/** Rewrites `#/components/schemas/X` to a standalone schema resource every compiled schema can reach. */
function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs)
  if (value === null || typeof value !== 'object') return value
  const out: Json = {}
  for (const [key, inner] of Object.entries(value)) {
    out[key] = key === '$ref' && typeof inner === 'string' ? inner.replace('#/components/schemas/', `${SCHEMAS_ID}#/$defs/`) : rewriteRefs(inner)
  }
  return out
}

/** One response checked against the document. */
export interface ObservedResponse {
  method: string
  /** Path and query, e.g. `/3/authentication?api_key=…`. */
  url: string
  status: number
  contentType: string | null
  body: unknown
}

/**
 * Checks real responses against cinepass's OpenAPI document (ajv, JSON Schema 2020-12, OpenAPI 3.1's
 * dialect): the operation must document the status, and the body must match its schema. A path the
 * document does not list must be a 404/34 or 401, a method it does not list a 405/42 or 401.
 */
// Answers any path may get, whether or not it names an operation: the document's shared responses.
const FALLBACKS: Record<number, string> = { 400: 'BadRequest', 401: 'Unauthorized', 429: 'TooManyRequests' }

export class OpenApiValidator {
  readonly #doc: Json
  readonly #ajv: Ajv2020
  readonly #compiled = new Map<string, ValidateFunction>()
  readonly #paths: { pattern: RegExp; template: string }[]
  /** Every response checked, as `METHOD template STATUS`. */
  readonly seen: string[] = []

  constructor(document: Json) {
    this.#doc = document
    this.#ajv = new Ajv2020({ strict: true, allErrors: true })
    addFormats(this.#ajv)
    this.#ajv.addSchema({ $id: SCHEMAS_ID, $defs: rewriteRefs(document.components.schemas) as Json })
    this.#paths = Object.keys(document.paths).map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}/?$`),
    }))
  }

  /** Throws with the details when `observed` does not match the document. */
  check(observed: ObservedResponse): void {
    const path = observed.url.split('?')[0] ?? ''
    const method = observed.method.toLowerCase()
    if (observed.contentType !== 'application/json;charset=utf-8') {
      throw new Error(`${observed.method} ${path} ${observed.status}: Content-Type ${observed.contentType}`)
    }
    const found = this.#paths.find((entry) => entry.pattern.test(path))
    const operation = found ? this.#doc.paths[found.template][method] : undefined
    let response: Json | undefined
    let label: string
    if (operation) {
      response = operation.responses[String(observed.status)]
      label = `${observed.method} ${found?.template} ${observed.status}`
    } else {
      const fallback = FALLBACKS[observed.status] ?? (found ? 'MethodNotAllowed' : 'NotFound')
      response = this.#doc.components.responses[fallback]
      label = `${observed.method} ${found?.template ?? '(no path)'} ${observed.status} ${fallback}`
      const expectedStatus = { Unauthorized: 401, MethodNotAllowed: 405, NotFound: 404, BadRequest: 400, TooManyRequests: 429 }[fallback]
      if (observed.status !== expectedStatus) throw new Error(`${label}: undocumented status`)
    }
    if (!response) throw new Error(`${label}: the document lists no such response`)
    const schema = response.content?.['application/json']?.schema
    if (!schema) throw new Error(`${label}: the response has no JSON schema`)
    const validate = this.#validator(label, schema)
    if (!validate(observed.body)) {
      throw new Error(`${label}: body ${JSON.stringify(observed.body)} does not match: ${this.#ajv.errorsText(validate.errors)}`)
    }
    this.seen.push(label)
  }

  /** Compiles every response schema of the document (strict mode): how many there were. */
  compileAll(): number {
    let count = 0
    const responses = Object.values(this.#doc.paths as Json).flatMap((item: Json) =>
      Object.values(item).flatMap((operation: Json) => Object.entries(operation.responses ?? {}).map(([status, response]) => ({ status, response }))),
    )
    for (const [index, { response }] of [...responses, ...Object.values(this.#doc.components.responses as Json).map((response) => ({ response }))].entries()) {
      this.#validator(`#${index}`, (response as Json).content['application/json'].schema)
      count += 1
    }
    return count
  }

  #validator(label: string, schema: Json): ValidateFunction {
    const key = `${label}`
    let validate = this.#compiled.get(key)
    if (!validate) {
      validate = this.#ajv.compile(rewriteRefs(schema) as Json)
      this.#compiled.set(key, validate)
    }
    return validate
  }

  /**
   * A `fetch` that checks every API response against the document (the body is read from a clone,
   * so the caller still gets it). Failures are collected in `failures` rather than thrown, so a test
   * of an error path still sees the error it expects; assert `failures` is empty afterwards.
   */
  fetch(failures: string[]): (input: string, init?: RequestInit) => Promise<Response> {
    return async (input, init) => {
      const response = await fetch(input, init)
      const url = new URL(input)
      if (/^\/[34](?:\/|$)/.test(url.pathname)) {
        const text = await response.clone().text()
        try {
          this.check({
            method: init?.method ?? 'GET',
            url: url.pathname,
            status: response.status,
            contentType: response.headers.get('content-type'),
            body: JSON.parse(text),
          })
        } catch (error) {
          failures.push(error instanceof Error ? error.message : String(error))
        }
      }
      return response
    }
  }
}

let shared: OpenApiValidator | undefined

/**
 * Checks one API response any test received against cinepass's OpenAPI document (the fixtures'
 * `call()` runs it on every response under /3 and /4). Preflights and HEAD carry no documented body.
 */
export function checkApiResponse(url: string, method: string, status: number, contentType: string | null, body: unknown): void {
  const { pathname } = new URL(url)
  const upper = method.toUpperCase()
  if (!/^\/[34](?:\/|$)/.test(pathname) || upper === 'OPTIONS' || upper === 'HEAD') return
  shared ??= new OpenApiValidator(openApiDocument('http://127.0.0.1'))
  shared.check({ method: upper, url: pathname, status, contentType, body })
}
