// The SQLite backend of sql::Database: one file (or ":memory:"), prepared statements kept for
// reuse, extended result codes in every message.
#pragma once

#include <filesystem>
#include <memory>

#include "attest/verifier/sql.hpp"

namespace cairn::attest::verifier::sql {

// Opens (creating) `path`.
Expected<std::unique_ptr<Connection>> open_sqlite(const std::filesystem::path& path);

}  // namespace cairn::attest::verifier::sql
