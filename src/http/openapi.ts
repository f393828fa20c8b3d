import { TMDB_STATUS, type TmdbStatusName } from '../wire/status.js'

/**
 * cinepass's own OpenAPI 3.1 document: what this server really accepts and returns (TMDB's own wire format),
 * served at `GET /openapi.json` and rendered at `/docs`. The client tests validate every response
 * they see against it, so it cannot drift from the code.
 */

type Json = Record<string, unknown>

const JSON_TYPE = 'application/json'
const FORM_TYPE = 'application/x-www-form-urlencoded'
const schema = (name: string): Json => ({ $ref: `#/components/schemas/${name}` })

const CODE_NAMES = Object.fromEntries(Object.entries(TMDB_STATUS).map(([name, status]) => [status.status_code, name as TmdbStatusName]))

/** TMDB's error body restricted to `codes`. */
function errorSchema(codes: number[]): Json {
  return { type: 'object', allOf: [schema('ErrorResponse')], properties: { status_code: { enum: codes } } }
}

/** An error answer: TMDB's error body restricted to `codes`, listed with TMDB's messages. */
function errorResponse(codes: number[], extra: Json = {}): Json {
  const lines = codes.map((code) => `- ${code}: ${TMDB_STATUS[CODE_NAMES[code] as TmdbStatusName].message}`)
  return {
    description: `TMDB error body. status_code:\n${lines.join('\n')}`,
    content: { [JSON_TYPE]: { schema: errorSchema(codes) } },
    ...extra,
  }
}

const RETRY_AFTER = {
  'Retry-After': { description: 'Whole seconds to wait before retrying.', schema: { type: 'string', pattern: '^[0-9]+$' } },
}

/** Answers every API operation can give, whatever its path: bad input, credentials, rate limits, an unavailable database. */
function commonErrors(unauthorizedCodes: number[] = []): Json {
  return {
    '400': errorResponse([47]),
    '401': errorResponse([7, 10, ...unauthorizedCodes]),
    '429': errorResponse([25], { headers: RETRY_AFTER }),
    '500': errorResponse([11]),
    '503': errorResponse([9], { headers: RETRY_AFTER }),
  }
}

function ok(model: string, description: string, headers?: Json): Json {
  return { description, content: { [JSON_TYPE]: { schema: schema(model) } }, ...(headers ? { headers } : {}) }
}

/** A string parameter read from the query (the GET form, or the fallback after the body). */
function queryParameter(name: string, description: string, required = false): Json {
  return { name, in: 'query', required, description, schema: { type: 'string', maxLength: 2048 } }
}

/** A JSON or form-encoded body with these string fields (and optionally `api_key`). */
function body(model: string, description: string): Json {
  return {
    required: false,
    description: `${description} Read from the JSON body, then a form-encoded body, then the query string; an empty body is no body.`,
    content: { [JSON_TYPE]: { schema: schema(model) }, [FORM_TYPE]: { schema: schema(model) } },
  }
}

const API_KEY_IN_BODY = { type: 'string', description: 'The application key, accepted in the body as one popular client sends it.' }
const token = (description: string): Json => ({ type: 'string', maxLength: 2048, description })

const SCHEMAS: Record<string, Json> = {
  ErrorResponse: {
    type: 'object',
    description: "TMDB's error body. `session/new` adds `failure: true` to its code 17.",
    required: ['success', 'status_code', 'status_message'],
    properties: {
      success: { const: false },
      failure: { const: true },
      status_code: { type: 'integer' },
      status_message: { type: 'string' },
    },
  },
  StatusResponse: {
    type: 'object',
    required: ['success', 'status_code', 'status_message'],
    properties: { success: { const: true }, status_code: { type: 'integer' }, status_message: { type: 'string' } },
  },
  SuccessResponse: { type: 'object', required: ['success'], properties: { success: { const: true } } },
  TokenResponseWithExpiration: {
    type: 'object',
    required: ['success', 'expires_at', 'request_token'],
    properties: {
      success: { const: true },
      expires_at: { $ref: '#/components/schemas/TmdbTime' },
      request_token: { $ref: '#/components/schemas/Hex40' },
    },
  },
  SessionResponse: {
    type: 'object',
    required: ['success', 'session_id'],
    properties: { success: { const: true }, session_id: { $ref: '#/components/schemas/Hex40' } },
  },
  GuestSessionResponse: {
    type: 'object',
    required: ['success', 'guest_session_id', 'expires_at'],
    properties: {
      success: { const: true },
      guest_session_id: { type: 'string', pattern: '^[0-9a-f]{32}$' },
      expires_at: { $ref: '#/components/schemas/TmdbTime' },
    },
  },
  AccountDetails: {
    type: 'object',
    required: ['avatar', 'id', 'iso_639_1', 'iso_3166_1', 'name', 'include_adult', 'username'],
    properties: {
      avatar: {
        type: 'object',
        required: ['gravatar', 'tmdb'],
        properties: {
          gravatar: { type: 'object', required: ['hash'], properties: { hash: { type: 'string', pattern: '^[0-9a-f]{32}$' } } },
          tmdb: { type: 'object', required: ['avatar_path'], properties: { avatar_path: { type: ['string', 'null'] } } },
        },
      },
      id: { type: 'integer' },
      iso_639_1: { type: 'string' },
      iso_3166_1: { type: 'string' },
      name: { type: 'string' },
      include_adult: { type: 'boolean' },
      username: { type: 'string' },
    },
  },
  V4RequestTokenResponse: {
    type: 'object',
    required: ['success', 'status_code', 'status_message', 'request_token'],
    properties: {
      success: { const: true },
      status_code: { const: 1 },
      status_message: { type: 'string' },
      request_token: { $ref: '#/components/schemas/Jwt' },
    },
  },
  V4AccessTokenResponse: {
    type: 'object',
    required: ['success', 'status_code', 'status_message', 'access_token', 'account_id'],
    properties: {
      success: { const: true },
      status_code: { const: 1 },
      status_message: { type: 'string' },
      access_token: { $ref: '#/components/schemas/Jwt' },
      account_id: { type: 'string', pattern: '^[0-9a-f]{24}$' },
    },
  },
  V4DeletedResponse: {
    type: 'object',
    required: ['success', 'status_code', 'status_message'],
    properties: { success: { const: true }, status_code: { const: 13 }, status_message: { type: 'string' } },
  },
  TmdbTime: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2} UTC$', examples: ['2016-08-26 17:04:39 UTC'] },
  Hex40: { type: 'string', pattern: '^[0-9a-f]{40}$' },
  Jwt: { type: 'string', pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$' },
  ValidateWithLoginBody: {
    type: 'object',
    properties: {
      username: token('Required (400/26 without it).'),
      password: token('Required (400/26 without it).'),
      request_token: token('Required (422/5 without it).'),
      api_key: API_KEY_IN_BODY,
    },
  },
  RequestTokenBody: { type: 'object', properties: { request_token: token('Required (422/5 without it).'), api_key: API_KEY_IN_BODY } },
  SessionIdBody: { type: 'object', properties: { session_id: token('Required (422/5 without it).'), api_key: API_KEY_IN_BODY } },
  AccessTokenBody: { type: 'object', properties: { access_token: token('A user access token (v4).'), api_key: API_KEY_IN_BODY } },
  V4RequestTokenBody: {
    type: 'object',
    properties: { redirect_to: { type: 'string', description: 'Where the website sends the user after approval.' } },
  },
  V4AccessTokenBody: { type: 'object', properties: { request_token: token('The approved v4 request token.') } },
}

const SESSION_ID_QUERY = queryParameter('session_id', 'The session (or use a user access token as the bearer).')

function v3Operations(): Json {
  const validateErrors = { ...commonErrors([30, 31, 33]), '400': errorResponse([26, 47]), '422': errorResponse([5]) }
  const sessionNewErrors = {
    ...commonErrors(),
    '401': {
      description: 'Credentials (7, 10), an unknown/expired/used token (33), or a token not approved yet (17, with `failure: true`).',
      content: { [JSON_TYPE]: { schema: errorSchema([7, 10, 17, 33]) } },
    },
    '422': errorResponse([5]),
  }
  const inQuery = (method: string): string => (method === 'get' ? 'The GET form.' : 'Also read from the query, after the body.')
  const loginParameters = (method: string): Json[] => ['username', 'password', 'request_token'].map((name) => queryParameter(name, inQuery(method)))
  const tokenParameter = (method: string): Json[] => [queryParameter('request_token', inQuery(method))]
  const validate = (method: string): Json => ({
    operationId: `${method}ValidateWithLogin`,
    tags: ['v3'],
    summary: `Validate a request token with a username and password (${method.toUpperCase()} form)`,
    parameters: loginParameters(method),
    ...(method === 'post' ? { requestBody: body('ValidateWithLoginBody', 'username, password, request_token.') } : {}),
    responses: { '200': ok('TokenResponseWithExpiration', "The same token, with the token's own expiry."), ...validateErrors },
  })
  const sessionNew = (method: string): Json => ({
    operationId: `${method}SessionNew`,
    tags: ['v3'],
    summary: `Create a session from an approved request token (${method.toUpperCase()} form)`,
    parameters: tokenParameter(method),
    ...(method === 'post' ? { requestBody: body('RequestTokenBody', 'request_token.') } : {}),
    responses: { '200': ok('SessionResponse', 'A new session; the request token is consumed.'), ...sessionNewErrors },
  })
  const account = (withId: boolean): Json => ({
    get: {
      operationId: withId ? 'getAccountById' : 'getAccount',
      tags: ['account'],
      summary: "The session's account",
      parameters: [
        ...(withId ? [{ name: 'account_id', in: 'path', required: true, schema: { type: 'string' }, description: 'The v3 id or the 24-hex object id.' }] : []),
        SESSION_ID_QUERY,
      ],
      responses: { '200': ok('AccountDetails', 'The account.'), ...commonErrors([3]), ...(withId ? { '404': errorResponse([34]) } : {}) },
    },
  })
  return {
    '/3/authentication': {
      get: {
        operationId: 'validateKey',
        tags: ['v3'],
        summary: 'Check the credentials',
        responses: { '200': ok('StatusResponse', 'status_code 1, "Success."'), ...commonErrors() },
      },
    },
    '/3/authentication/token/new': {
      get: {
        operationId: 'createRequestToken',
        tags: ['v3'],
        summary: 'Create a request token (60 minutes)',
        responses: {
          '200': ok('TokenResponseWithExpiration', 'A pending request token.', {
            'Authentication-Callback': { description: 'The website page where the user approves the token.', schema: { type: 'string' } },
          }),
          ...commonErrors(),
        },
      },
    },
    '/3/authentication/token/validate_with_login': { get: validate('get'), post: validate('post') },
    '/3/authentication/session/new': { get: sessionNew('get'), post: sessionNew('post') },
    '/3/authentication/guest_session/new': {
      get: {
        operationId: 'createGuestSession',
        tags: ['v3'],
        summary: 'Create a guest session (24 hours)',
        responses: { '200': ok('GuestSessionResponse', 'A guest session.'), ...commonErrors() },
      },
    },
    '/3/authentication/session': {
      delete: {
        operationId: 'deleteSession',
        tags: ['v3'],
        summary: 'Log a session out',
        parameters: [queryParameter('session_id', 'The session, in the query or the body.')],
        requestBody: body('SessionIdBody', 'session_id.'),
        responses: { '200': ok('SuccessResponse', 'Deleted.'), ...commonErrors(), '404': errorResponse([37]), '422': errorResponse([5]) },
      },
    },
    '/3/authentication/session/convert/4': {
      post: {
        operationId: 'convert4',
        tags: ['v3'],
        summary: 'Create a v3 session from a user access token',
        parameters: [queryParameter('access_token', 'The fallback after the body.')],
        requestBody: body('AccessTokenBody', 'access_token.'),
        responses: { '200': ok('SessionResponse', "A new session for the token's user."), ...commonErrors([35, 36]), '422': errorResponse([5]) },
      },
    },
    '/3/account': account(false),
    '/3/account/{account_id}': account(true),
  }
}

function v4Operations(): Json {
  const v4Query = (name: string): Json[] => [queryParameter(name, 'The fallback after the body.')]
  return {
    '/4/auth/request_token': {
      post: {
        operationId: 'createV4RequestToken',
        tags: ['v4'],
        summary: 'Create a v4 request token (15 minutes, single use)',
        security: [{ bearer: [] }],
        parameters: v4Query('redirect_to'),
        requestBody: body('V4RequestTokenBody', 'redirect_to (optional).'),
        responses: {
          '200': ok('V4RequestTokenResponse', 'A pending v4 request token.'),
          ...commonErrors(),
          '422': errorResponse([5], {
            description:
              "redirect_to refused: not an absolute http(s) URL or app scheme, a refused scheme, or an origin outside the application's list. status_code 5.",
          }),
        },
      },
    },
    '/4/auth/access_token': {
      post: {
        operationId: 'createV4AccessToken',
        tags: ['v4'],
        summary: 'Exchange an approved v4 request token for a user access token',
        security: [{ bearer: [] }],
        parameters: v4Query('request_token'),
        requestBody: body('V4AccessTokenBody', 'request_token.'),
        responses: { '200': ok('V4AccessTokenResponse', "The user's access token."), ...commonErrors([33]), '422': errorResponse([5, 41]) },
      },
      delete: {
        operationId: 'deleteV4AccessToken',
        tags: ['v4'],
        summary: 'Log a user access token out everywhere',
        security: [{ bearer: [] }],
        parameters: v4Query('access_token'),
        requestBody: body('AccessTokenBody', 'access_token.'),
        responses: { '200': ok('V4DeletedResponse', 'status_code 13.'), ...commonErrors([35]), '422': errorResponse([5]) },
      },
    },
  }
}

/** The document, built once. `serverUrl` is where this cinepass is reached (its public URL). */
export function openApiDocument(serverUrl: string): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'cinepass',
      version: '1',
      summary: "TMDB's authentication API (v3 and v4), as cinepass serves it.",
      description: [
        'Every answer is JSON with `Content-Type: application/json;charset=utf-8`, errors included:',
        '`{"success":false,"status_code":N,"status_message":"…"}`.',
        '',
        'Credentials are checked before routing: any request under /3 or /4 without valid credentials is 401/7',
        '(401/10 for a suspended application), whatever its path; then an unknown path is 404/34 and a method',
        'a path does not serve is 405/42. Credentials: `api_key` in the query string or in the JSON body, or',
        '`Authorization: Bearer` with the read access token or a user access token.',
        '',
        'Parameters are read from the JSON body, then a form-encoded body, then the query string, so every',
        'POST operation also takes its parameters in the query. A body that claims to be JSON and is not,',
        'a body over 16 KiB or a parameter over 2048 characters: 400/47, and so is a path that cannot be routed',
        '(an escape that does not decode as UTF-8, a segment over 2048 characters). Browsers may call the API from any',
        'origin (CORS preflights are answered before the credential check).',
      ].join('\n'),
    },
    servers: [{ url: serverUrl }],
    security: [{ api_key: [] }, { bearer: [] }],
    tags: [
      { name: 'v3', description: "TMDB's v3 authentication API" },
      { name: 'v4', description: 'v4 user access tokens' },
      { name: 'account', description: 'The account of a session' },
    ],
    paths: {
      ...v3Operations(),
      ...v4Operations(),
    },
    components: {
      securitySchemes: {
        api_key: { type: 'apiKey', in: 'query', name: 'api_key', description: 'The v3 API key (also accepted as `api_key` in a JSON body).' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The read access token, or a user access token (v4).' },
      },
      schemas: SCHEMAS,
      // Answers outside any operation: a path that is not an endpoint, a method a path does not serve,
      // a path that cannot be routed, the per-address API limit (counted before routing).
      responses: {
        NotFound: errorResponse([34]),
        MethodNotAllowed: errorResponse([42]),
        Unauthorized: errorResponse([7, 10]),
        BadRequest: errorResponse([47]),
        TooManyRequests: errorResponse([25], { headers: RETRY_AFTER }),
      },
    },
  }
}
