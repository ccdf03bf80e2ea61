/**
 * The dashboard's accounts and sessions: part of schema version 3 (gateway/db/schema.ts).
 * Released with it: never edited after, a change is a new version.
 */
export const ACCOUNTS_SQL = `
-- Who may open the dashboard, and what they see: one level (province, city, county, hall) and one
-- place (gateway/accounts/scope.ts). Passwords only as a KDF's output (scrypt, with its parameters
-- and salt in the text). Managed with hcp gateway users; every change is in operator_actions.
CREATE TABLE users (
  username      text PRIMARY KEY,
  display_name  text NOT NULL DEFAULT '',
  role          text NOT NULL CHECK (role IN ('province', 'city', 'county', 'hall')),
  area_prefix   text NOT NULL,
  hall_code     text,
  password_hash text NOT NULL,
  disabled      boolean NOT NULL DEFAULT false,
  -- Wrong passwords in a row, and until when the account then refuses every password.
  failed_logins integer NOT NULL DEFAULT 0,
  locked_until  timestamptz,
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL,
  last_login_at timestamptz,
  CHECK ((role = 'hall') = (hall_code IS NOT NULL))
);

-- A signed-in browser: the cookie holds a random token, the table only its SHA-256 (a copy of the
-- table opens no session). Ended by logout, by expiry, or with the account.
CREATE TABLE sessions (
  token_hash   text PRIMARY KEY,
  username     text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (username);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
`;
