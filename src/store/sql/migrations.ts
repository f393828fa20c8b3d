/** A numbered schema migration, as each backend lists them (its `migrations.ts`). */
export interface Migration {
  version: number
  name: string
  sql: string
}

/**
 * Migration 3, the same portable SQL on both backends: every credential records the account's
 * credentials epoch it was issued under (see `Store`); a session made by convert/4 names its access
 * token, which takes it along when deleted.
 */
export const CREDENTIALS_EPOCH: Migration = {
  version: 3,
  name: 'credentials_epoch',
  sql: `
ALTER TABLE accounts ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE request_tokens ADD COLUMN epoch INTEGER;
ALTER TABLE v4_request_tokens ADD COLUMN epoch INTEGER;
ALTER TABLE sessions ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN access_token_id_hash TEXT;
CREATE INDEX sessions_access_token_id_hash ON sessions (access_token_id_hash) WHERE access_token_id_hash IS NOT NULL;
ALTER TABLE access_tokens ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE web_sessions ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
`,
}
