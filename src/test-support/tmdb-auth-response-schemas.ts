/**
 * The response schemas TMDB's official OpenAPI document (v3, the "tmdb-api" document TMDB publishes for its
 * developer reference) gives for its authentication endpoints and `GET /3/account/{account_id}`, as
 * the project's own fixture: only `type` and `properties` are kept (TMDB's examples, defaults and
 * descriptions are left out), keyed by "METHOD path status".
 *
 * To refresh: download TMDB's current OpenAPI document for API v3, take
 * `paths[path][method].responses[status].content["application/json"].schema` of each key below, drop
 * `example`, `examples`, `default` and `description` at every depth, and replace the objects here.
 */
export const TMDB_AUTH_RESPONSE_SCHEMAS: Record<string, Record<string, unknown>> = {
  'GET /3/authentication 200': {
    type: 'object',
    properties: {
      success: {
        type: 'boolean',
      },
      status_code: {
        type: 'integer',
      },
      status_message: {
        type: 'string',
      },
    },
  },
  'GET /3/authentication 401': {
    type: 'object',
    properties: {
      status_code: {
        type: 'integer',
      },
      status_message: {
        type: 'string',
      },
      success: {
        type: 'boolean',
      },
    },
  },
  'GET /3/authentication/guest_session/new 200': {
    type: 'object',
    properties: {
      success: {
        type: 'boolean',
      },
      guest_session_id: {
        type: 'string',
      },
      expires_at: {
        type: 'string',
      },
    },
  },
  'GET /3/authentication/token/new 200': {
    type: 'object',
    properties: {
      success: {
        type: 'boolean',
      },
      expires_at: {
        type: 'string',
      },
      request_token: {
        type: 'string',
      },
    },
  },
  'POST /3/authentication/session/new 200': {
    type: 'object',
    properties: {
      success: {
        type: 'boolean',
      },
      session_id: {
        type: 'string',
      },
    },
  },
  'POST /3/authentication/session/convert/4 200': {
    type: 'object',
    properties: {
      success: {
        type: 'boolean',
      },
      session_id: {
        type: 'string',
      },
    },
  },
  'POST /3/authentication/token/validate_with_login 200': {
    type: 'object',
    properties: {
      success: {
        type: 'boolean',
      },
      expires_at: {
        type: 'string',
      },
      request_token: {
        type: 'string',
      },
    },
  },
  'DELETE /3/authentication/session 200': {
    type: 'object',
    properties: {
      success: {
        type: 'boolean',
      },
    },
  },
  'GET /3/account/{account_id} 200': {
    type: 'object',
    properties: {
      avatar: {
        type: 'object',
        properties: {
          gravatar: {
            type: 'object',
            properties: {
              hash: {
                type: 'string',
              },
            },
          },
          tmdb: {
            type: 'object',
            properties: {
              avatar_path: {
                type: 'string',
              },
            },
          },
        },
      },
      id: {
        type: 'integer',
      },
      iso_639_1: {
        type: 'string',
      },
      iso_3166_1: {
        type: 'string',
      },
      name: {
        type: 'string',
      },
      include_adult: {
        type: 'boolean',
      },
      username: {
        type: 'string',
      },
    },
  },
}
