// The database the store's test cases run on. The same cases run twice: on SQLite (ctest's unit
// label) and, with CAIRN_TEST_STORE=postgresql, on a PostgreSQL 15 the process starts once
// (tests/support/postgres_server.hpp), each case in a database of its own (label integration).
#pragma once

#include <set>
#include <string>

#include "attest/verifier/store.hpp"
#include "support/postgres_server.hpp"

namespace cairn::attest::verifier::testing {

bool on_postgresql();
// The PostgreSQL server of this process, started at the first call (test cases tagged
// [postgresql] use it whichever backend the others run on).
cairn::testing::PostgresServer& shared_postgresql();
// A new, empty database: a file in a temporary directory kept until the process ends, or a new
// PostgreSQL database. Every call gives another.
std::string fresh_location();
// Opens the store at `location`, failing the test case when it cannot.
Store open_store(const std::string& location);
// The columns and indexes of the schema at `location`, as comparable lines.
std::set<std::string> schema_of(const std::string& location);

}  // namespace cairn::attest::verifier::testing
