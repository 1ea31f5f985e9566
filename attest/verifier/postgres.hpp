// The PostgreSQL backend of sql::Database, on libpq: statements prepared once per connection,
// parameters sent apart from the SQL (binary for bytea), '?' rewritten to $1, $2…. A connection
// that broke (the server restarted, a network cut) is reset before the next statement, so the
// verifier serves again once the database is back.
#pragma once

#include <memory>
#include <string_view>

#include "attest/verifier/sql.hpp"

namespace cairn::attest::verifier::sql {

// Connects to a "postgresql://…" URI. Errc::unavailable when the server cannot be reached or
// refuses the login; the message names the location without its password.
Expected<std::unique_ptr<Connection>> open_postgresql(std::string_view location);

// "?" parameters as "$1", "$2"… outside quoted strings and identifiers.
std::string number_parameters(std::string_view sql);

}  // namespace cairn::attest::verifier::sql
