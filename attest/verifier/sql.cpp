#include "attest/verifier/sql.hpp"

#include "attest/verifier/postgres.hpp"
#include "attest/verifier/sqlite.hpp"

namespace cairn::attest::verifier::sql {

bool is_postgresql_location(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

std::string redact_location(std::string_view location) {
  std::string text(location);
  if (!is_postgresql_location(text)) return text;
  // scheme://user:password@host…: the password runs from the first ':' after the scheme to '@'.
  auto authority = text.find("://") + 3;
  auto at = text.find('@', authority);
  auto colon = text.find(':', authority);
  if (at != std::string::npos && colon < at) text.replace(colon + 1, at - colon - 1, "***");
  // …?password=secret&…
  for (auto key = text.find("password="); key != std::string::npos;
       key = text.find("password=", key + 1)) {
    auto value = key + std::string_view("password=").size();
    text.replace(value, text.find('&', value) - value, "***");
  }
  return text;
}

Expected<Database> Database::open(std::string_view location) {
  if (is_postgresql_location(location)) return Database(CAIRN_TRY(open_postgresql(location)));
  return Database(CAIRN_TRY(open_sqlite(std::filesystem::path(location))));
}

}  // namespace cairn::attest::verifier::sql
