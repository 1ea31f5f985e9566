-- cairn-verifier's database schema version 1 as released (store.cpp at 8f283de), frozen: the
-- store tests migrate a database made from it.
CREATE TABLE hosts (
  name TEXT PRIMARY KEY,
  ek_public BLOB NOT NULL,
  ek_sha256 TEXT NOT NULL,
  ek_certificate BLOB,
  ak_public BLOB NOT NULL,
  ak_name BLOB NOT NULL,
  enrolled_at INTEGER NOT NULL,
  last_reset_count INTEGER,
  last_clock INTEGER
);
CREATE TABLE pending_enrollments (
  id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  ek_public BLOB NOT NULL,
  ek_certificate BLOB,
  ak_public BLOB NOT NULL,
  secret_sha256 BLOB NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE nonces (
  nonce BLOB PRIMARY KEY,
  host TEXT NOT NULL,
  issued_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE images (
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  measurements TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('approved', 'revoked')),
  loaded_at INTEGER NOT NULL,
  PRIMARY KEY (name, version)
);
PRAGMA user_version = 1;
