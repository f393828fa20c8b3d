import { CREDENTIALS_EPOCH, type Migration } from '../sql/migrations.js'

/**
 * The SQLite schema, as numbered migrations applied in order at start and by `cinepass migrate`.
 * Applied migrations are recorded in `schema_migrations`; never edit one that has shipped, add the next.
 */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'create_schema',
    sql: `
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE applications (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  api_key_hash TEXT NOT NULL UNIQUE,
  suspended INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  redirect_origins TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE accounts (
  id INTEGER PRIMARY KEY,
  object_id TEXT NOT NULL UNIQUE,
  username TEXT NOT NULL,
  username_key TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL DEFAULT '',
  email TEXT,
  language TEXT NOT NULL DEFAULT 'en',
  country TEXT NOT NULL DEFAULT 'US',
  include_adult INTEGER NOT NULL DEFAULT 0,
  password_hash TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE TABLE request_tokens (
  token_hash TEXT PRIMARY KEY,
  app_id TEXT NOT NULL REFERENCES applications(id),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
  account_id INTEGER REFERENCES accounts(id),
  consumed_at INTEGER
);
CREATE INDEX request_tokens_expires_at ON request_tokens (expires_at);
CREATE TABLE sessions (
  session_hash TEXT PRIMARY KEY,
  app_id TEXT NOT NULL REFERENCES applications(id),
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  created_at INTEGER NOT NULL,
  expires_at INTEGER
);
CREATE INDEX sessions_account_id ON sessions (account_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE guest_sessions (
  session_hash TEXT PRIMARY KEY,
  app_id TEXT NOT NULL REFERENCES applications(id),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX guest_sessions_expires_at ON guest_sessions (expires_at);
CREATE TABLE v4_request_tokens (
  id_hash TEXT PRIMARY KEY,
  app_id TEXT NOT NULL REFERENCES applications(id),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  redirect_to TEXT,
  status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
  account_id INTEGER REFERENCES accounts(id),
  consumed_at INTEGER
);
CREATE INDEX v4_request_tokens_expires_at ON v4_request_tokens (expires_at);
CREATE TABLE access_tokens (
  id_hash TEXT PRIMARY KEY,
  app_id TEXT NOT NULL REFERENCES applications(id),
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX access_tokens_account_id ON access_tokens (account_id);
CREATE TABLE signing_keys (
  kid TEXT PRIMARY KEY,
  secret TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  retired_at INTEGER
);
CREATE TABLE web_sessions (
  session_hash TEXT PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX web_sessions_account_id ON web_sessions (account_id);
CREATE INDEX web_sessions_expires_at ON web_sessions (expires_at);
`,
  },
  {
    version: 2,
    name: 'account_page',
    // A reset link lives an hour and is not part of a copy: it goes with its account. When a website
    // session was last used is shown on the account page only (a copy starts it afresh).
    sql: `
ALTER TABLE web_sessions ADD COLUMN last_used_at INTEGER;
CREATE TABLE password_reset_tokens (
  token_hash TEXT PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);
CREATE INDEX password_reset_tokens_account_id ON password_reset_tokens (account_id);
`,
  },
  CREDENTIALS_EPOCH,
]
