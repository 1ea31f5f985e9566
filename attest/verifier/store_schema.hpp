// The verifier database's schema and its versions: the version in a table of its own
// (schema_version; SQLite files also keep PRAGMA user_version, which releases before version 3
// read), forward migrations in one transaction each, and on PostgreSQL an advisory lock so that
// one replica migrates while the others refuse to start.
#pragma once

#include <cstdint>

#include "attest/verifier/sql.hpp"

namespace cairn::attest::verifier {

inline constexpr std::int64_t kNewestSchemaVersion = 3;

// The schema version `db` holds: 0 for an empty database.
Expected<std::int64_t> read_schema_version(sql::Database& db);

// Creates the schema or migrates it forward to `target` (the newest unless a test builds an
// older release's database). Errc::invalid_input for a database newer than this binary,
// Errc::busy on PostgreSQL while another replica is migrating it.
Status migrate_schema(sql::Database& db, std::int64_t target = kNewestSchemaVersion);

}  // namespace cairn::attest::verifier
