#include "unit/attest/verifier/store_backend.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <optional>
#include <set>

#include "common/fs.hpp"
#include "support/postgres_server.hpp"

namespace cairn::attest::verifier::testing {

namespace {

std::mutex made_mutex;

}  // namespace

cairn::testing::PostgresServer& shared_postgresql() {
  static std::optional<cairn::testing::PostgresServer> running;
  if (!running) {
    auto started = cairn::testing::PostgresServer::start();
    if (!started) FAIL("PostgreSQL: " + started.error().describe());
    running.emplace(std::move(*started));
  }
  return *running;
}

namespace {

std::set<std::string> lines_of(sql::Database& db, const std::string& query) {
  auto statement = db.prepare(query);
  REQUIRE(statement.has_value());
  std::set<std::string> lines;
  while (statement->step().value()) lines.insert(statement->text(0));
  return lines;
}

}  // namespace

bool on_postgresql() {
  const char* backend = std::getenv("CAIRN_TEST_STORE");
  return backend && std::string_view(backend) == "postgresql";
}

std::string fresh_location() {
  std::lock_guard lock(made_mutex);
  static int made = 0;
  ++made;
  if (on_postgresql()) {
    auto url = shared_postgresql().create_database("store_case_" + std::to_string(made));
    if (!url) FAIL(url.error().describe());
    return *url;
  }
  static std::deque<TempDir> dirs;  // removed when the process ends
  auto dir = TempDir::create(std::filesystem::temp_directory_path(), "cairn-store-");
  REQUIRE(dir.has_value());
  dirs.push_back(std::move(*dir));
  return (dirs.back().path() / "verifier.db").string();
}

Store open_store(const std::string& location) {
  auto store = Store::open(location);
  if (!store) FAIL(store.error().describe());
  return std::move(*store);
}

std::set<std::string> schema_of(const std::string& location) {
  auto db = sql::Database::open(location);
  REQUIRE(db.has_value());
  if (db->backend() == sql::Backend::postgresql) {
    auto columns = lines_of(
        *db,
        "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || "
        "' ' || coalesce(column_default, '-') FROM information_schema.columns "
        "WHERE table_schema = current_schema()");
    auto indexes = lines_of(*db,
                            "SELECT 'index ' || indexdef FROM pg_indexes "
                            "WHERE schemaname = current_schema()");
    columns.insert(indexes.begin(), indexes.end());
    return columns;
  }
  std::set<std::string> lines;
  for (const auto& table : lines_of(*db, "SELECT name FROM sqlite_master WHERE type = 'table'")) {
    auto info = db->prepare("PRAGMA table_info(" + table + ")");
    REQUIRE(info.has_value());
    while (info->step().value()) {
      lines.insert(table + "." + info->text(1) + " " + info->text(2) + " " + info->text(3) + " " +
                   (info->is_null(4) ? "-" : info->text(4)) + " " + info->text(5));
    }
  }
  auto indexes = lines_of(*db,
                          "SELECT 'index ' || name || ' ' || coalesce(sql, '') FROM sqlite_master "
                          "WHERE type = 'index'");
  lines.insert(indexes.begin(), indexes.end());
  return lines;
}

}  // namespace cairn::attest::verifier::testing
