#include "attest/verifier/store_schema.hpp"

#include <algorithm>
#include <string>
#include <tuple>

namespace cairn::attest::verifier {

namespace {

// Version 1 as released, then each migration: types are written {int} and {blob}, which SQLite
// spells INTEGER and BLOB (its files stay as earlier releases made them) and PostgreSQL BIGINT
// and BYTEA.
constexpr std::string_view kBaseSchema = R"sql(
CREATE TABLE hosts (
  name TEXT PRIMARY KEY,
  ek_public {blob} NOT NULL,
  ek_sha256 TEXT NOT NULL,
  ek_certificate {blob},
  ak_public {blob} NOT NULL,
  ak_name {blob} NOT NULL,
  enrolled_at {int} NOT NULL,
  last_reset_count {int},
  last_clock {int}
);
CREATE TABLE pending_enrollments (
  id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  ek_public {blob} NOT NULL,
  ek_certificate {blob},
  ak_public {blob} NOT NULL,
  secret_sha256 {blob} NOT NULL,
  expires_at {int} NOT NULL
);
CREATE TABLE nonces (
  nonce {blob} PRIMARY KEY,
  host TEXT NOT NULL,
  issued_at {int} NOT NULL,
  expires_at {int} NOT NULL,
  used {int} NOT NULL DEFAULT 0
);
CREATE TABLE images (
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  measurements TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('approved', 'revoked')),
  loaded_at {int} NOT NULL,
  PRIMARY KEY (name, version)
);
)sql";

// kMigrations[i] takes a database from schema version i + 1 to i + 2. Each keeps the data:
// ALTER TABLE and new tables, never a rebuild.
constexpr std::string_view kMigrations[] = {
    // 2: each host's last verdict (fleet visibility).
    R"sql(
ALTER TABLE hosts ADD COLUMN last_verdict TEXT CHECK (last_verdict IN ('admitted', 'denied'));
ALTER TABLE hosts ADD COLUMN last_verdict_version TEXT;
ALTER TABLE hosts ADD COLUMN last_verdict_at {int};
)sql",
    // 3: replicas. An EK belongs to one host, by constraint: two replicas enrolling the same TPM
    // at once cannot both win an application check. The history of versions each host was
    // admitted on (promotion on attested evidence). The expiry indexes, which earlier releases
    // created at every start.
    R"sql(
CREATE UNIQUE INDEX hosts_by_ek ON hosts (ek_sha256);
CREATE TABLE host_versions (
  host TEXT NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  first_admitted_at {int} NOT NULL,
  last_admitted_at {int} NOT NULL,
  PRIMARY KEY (host, name, version)
);
CREATE INDEX IF NOT EXISTS nonces_by_expiry ON nonces (expires_at);
CREATE INDEX IF NOT EXISTS pending_by_expiry ON pending_enrollments (expires_at);
)sql",
};
static_assert(std::size(kMigrations) == kNewestSchemaVersion - 1);

// Any number: replicas of every release agree on it.
constexpr std::int64_t kMigrationLockKey = 0x636169726e5f7631;  // "cairn_v1"

std::string spelled_for(sql::Backend backend, std::string_view schema) {
  bool postgresql = backend == sql::Backend::postgresql;
  std::string out(schema);
  for (auto [placeholder, sqlite, postgres] :
       {std::tuple{"{int}", "INTEGER", "BIGINT"}, std::tuple{"{blob}", "BLOB", "BYTEA"}}) {
    std::string_view key = placeholder;
    for (auto at = out.find(key); at != std::string::npos; at = out.find(key, at)) {
      out.replace(at, key.size(), postgresql ? postgres : sqlite);
    }
  }
  return out;
}

Expected<std::int64_t> single_integer(sql::Database& db, std::string_view query) {
  auto statement = CAIRN_TRY(db.prepare(query));
  if (!CAIRN_TRY(statement.step())) return fail(Errc::io, std::string(query) + " gave no row");
  return statement.integer(0);
}

std::unexpected<Error> newer_schema(std::int64_t version) {
  return fail(Errc::invalid_input, "schema version " + std::to_string(version) +
                                       " is newer than this cairn-verifier's (" +
                                       std::to_string(kNewestSchemaVersion) +
                                       "); upgrade cairn-verifier");
}

}  // namespace

Expected<std::int64_t> read_schema_version(sql::Database& db) {
  bool postgresql = db.backend() == sql::Backend::postgresql;
  std::int64_t tables = CAIRN_TRY(single_integer(
      db, postgresql ? "SELECT count(*) FROM pg_catalog.pg_tables "
                       "WHERE schemaname = current_schema() AND tablename = 'schema_version'"
                     : "SELECT count(*) FROM sqlite_master "
                       "WHERE type = 'table' AND name = 'schema_version'"));
  std::int64_t version =
      tables > 0 ? CAIRN_TRY(single_integer(db, "SELECT max(version) FROM schema_version")) : 0;
  if (postgresql) return version;
  // Releases before version 3 kept only this; a file may have been left by either kind.
  return std::max(version, CAIRN_TRY(single_integer(db, "PRAGMA user_version")));
}

Status migrate_schema(sql::Database& db, std::int64_t target) {
  auto found = CAIRN_TRY(read_schema_version(db));
  if (found > kNewestSchemaVersion) return newer_schema(found);
  if (found >= target) return {};
  bool postgresql = db.backend() == sql::Backend::postgresql;
  return db.in_transaction([&]() -> Status {
    if (postgresql) {
      // Held until this transaction ends. A replica that finds it taken refuses to start
      // rather than wait: its operator sees why, and no two replicas ever migrate at once.
      auto locked = CAIRN_TRY(single_integer(db, "SELECT CASE WHEN pg_try_advisory_xact_lock(" +
                                                     std::to_string(kMigrationLockKey) +
                                                     ") THEN 1 ELSE 0 END"));
      if (!locked) {
        return fail(Errc::busy,
                    "another cairn-verifier is migrating this database's schema (version " +
                        std::to_string(found) + " to a newer one); start again once it is done");
      }
    }
    // Read again under the lock: another process may have migrated meanwhile.
    std::int64_t version = CAIRN_TRY(read_schema_version(db));
    if (version > kNewestSchemaVersion) return newer_schema(version);
    if (version >= target) return {};
    if (version == 0) {
      CAIRN_CHECK(db.execute(spelled_for(db.backend(), kBaseSchema)));
      version = 1;
    }
    for (auto step = version; step < target; ++step) {
      CAIRN_CHECK(with_context(
          db.execute(spelled_for(db.backend(), kMigrations[step - 1])),
          "migrating schema version " + std::to_string(step) + " to " + std::to_string(step + 1)));
    }
    CAIRN_CHECK(
        db.execute(spelled_for(db.backend(),
                               "CREATE TABLE IF NOT EXISTS schema_version (version {int} NOT NULL);"
                               "DELETE FROM schema_version;")));
    CAIRN_CHECK(
        db.execute("INSERT INTO schema_version (version) VALUES (" + std::to_string(target) + ")"));
    // Releases before version 3 read only this: they refuse a file newer than they are.
    if (!postgresql) CAIRN_CHECK(db.execute("PRAGMA user_version = " + std::to_string(target)));
    return {};
  });
}

}  // namespace cairn::attest::verifier
