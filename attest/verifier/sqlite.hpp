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
// Prepared statements kept for reuse, by their SQL: compiling the same few statements for every
// request took a tenth of a verdict's time. Finalizes what it holds when destroyed.
class StatementPool {
 public:
  StatementPool() = default;
  StatementPool(const StatementPool&) = delete;
  StatementPool& operator=(const StatementPool&) = delete;
  ~StatementPool();
  sqlite3_stmt* take(const std::string& sql);  // null when none is kept
  void give_back(const std::string& sql, sqlite3_stmt* statement);

 private:
  std::vector<std::pair<std::string, sqlite3_stmt*>> kept_;
};

// Returns a statement to its pool (reset, bindings cleared), or finalizes it without one.
struct StatementDeleter {
  StatementPool* pool = nullptr;
  std::string sql;
  void operator()(sqlite3_stmt* statement) const {
    if (pool) {
      pool->give_back(sql, statement);
    } else {
      sqlite3_finalize(statement);
    }
  }
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
  Statement(sqlite3* db, sqlite3_stmt* statement, std::string sql, StatementPool* pool)
      : db_(db), statement_(statement, StatementDeleter{pool, sql}), sql_(std::move(sql)) {}
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
  explicit Database(sqlite3* db) : db_(db), pool_(std::make_unique<StatementPool>()) {}
  std::unique_ptr<sqlite3, DatabaseDeleter> db_;
  // After db_: destroyed first, so its statements are finalized before the connection closes.
  std::unique_ptr<StatementPool> pool_;
};

}  // namespace cairn::attest::verifier::sql
