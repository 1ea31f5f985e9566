// A thin RAII layer over SQLite: a connection and prepared statements with typed binds and
// column reads, every failure an Expected naming the statement.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace cairn::attest::verifier::sql {

struct DatabaseDeleter {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementDeleter {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};

class Statement {
 public:
  // Binds are 1-based, in the order of the statement's '?' parameters.
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bind_blob(int index, std::span<const std::uint8_t> blob);
  Statement& bind_null(int index);
  template <class T>
  Statement& bind_optional(int index, const std::optional<T>& value) {
    return value ? bind(index, static_cast<std::int64_t>(*value)) : bind_null(index);
  }

  // true: a row is ready; false: done.
  Expected<bool> step();
  // Runs to completion; the number of rows changed.
  Expected<int> run();

  std::int64_t integer(int column) const;
  std::string text(int column) const;
  std::vector<std::uint8_t> blob(int column) const;
  bool is_null(int column) const;

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* statement, std::string sql)
      : db_(db), statement_(statement), sql_(std::move(sql)) {}
  void check_bind(int rc, int index);

  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, StatementDeleter> statement_;
  std::string sql_;
  std::optional<Error> bind_error_;  // the first failed bind, reported by step()
};

class Database {
 public:
  // Opens (creating) `path`; ":memory:" gives a private in-memory database.
  static Expected<Database> open(const std::filesystem::path& path);

  Expected<Statement> prepare(std::string_view sql);
  // Runs one or more statements without parameters (schema, pragmas).
  Status execute(std::string_view sql);
  Expected<std::int64_t> user_version();

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  std::unique_ptr<sqlite3, DatabaseDeleter> db_;
};

}  // namespace cairn::attest::verifier::sql
