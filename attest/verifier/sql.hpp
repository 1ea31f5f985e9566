// The verifier's database, whichever engine holds it: SQLite (one file, the embedded default) or
// PostgreSQL (several verifier replicas sharing one fleet's state). The store writes its SQL once,
// with '?' parameters; a backend translates what differs (PostgreSQL's $1, $2…) and reports every
// failure as an Expected naming the statement.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace cairn::attest::verifier::sql {

enum class Backend { sqlite, postgresql };

// "postgresql://…" or "postgres://…" (libpq's URI forms) name a PostgreSQL database; anything
// else is an SQLite file path (":memory:" a private in-memory database).
bool is_postgresql_location(std::string_view location);

// One prepared statement of a backend: binds are 1-based, in the order of the '?' parameters.
class Cursor {
 public:
  virtual ~Cursor() = default;
  virtual void bind_integer(int index, std::int64_t value) = 0;
  virtual void bind_text(int index, std::string_view text) = 0;
  virtual void bind_blob(int index, std::span<const std::uint8_t> blob) = 0;
  virtual void bind_null(int index) = 0;
  // true: a row is ready; false: done. The first call runs the statement.
  virtual Expected<bool> step() = 0;
  // Runs to completion; the number of rows changed.
  virtual Expected<int> run() = 0;
  virtual std::int64_t integer(int column) const = 0;
  virtual std::string text(int column) const = 0;
  virtual std::vector<std::uint8_t> blob(int column) const = 0;
  virtual bool is_null(int column) const = 0;
};

// One connection of a backend. Not thread-safe: the verifier's service holds a mutex around it.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual Backend backend() const = 0;
  virtual Expected<std::unique_ptr<Cursor>> prepare(std::string_view sql) = 0;
  // One or more statements without parameters (schema, pragmas, transaction control).
  virtual Status execute(std::string_view sql) = 0;
  // Starts a transaction that writes: SQLite takes its write lock at once (BEGIN IMMEDIATE), so
  // two writers queue instead of failing at their first write.
  virtual Status begin_write() = 0;
};

class Statement {
 public:
  explicit Statement(std::unique_ptr<Cursor> cursor) : cursor_(std::move(cursor)) {}

  Statement& bind(int index, std::int64_t value) {
    cursor_->bind_integer(index, value);
    return *this;
  }
  Statement& bind(int index, std::string_view text) {
    cursor_->bind_text(index, text);
    return *this;
  }
  Statement& bind_blob(int index, std::span<const std::uint8_t> blob) {
    cursor_->bind_blob(index, blob);
    return *this;
  }
  Statement& bind_null(int index) {
    cursor_->bind_null(index);
    return *this;
  }
  template <class T>
  Statement& bind_optional(int index, const std::optional<T>& value) {
    return value ? bind(index, static_cast<std::int64_t>(*value)) : bind_null(index);
  }

  Expected<bool> step() { return cursor_->step(); }
  Expected<int> run() { return cursor_->run(); }
  std::int64_t integer(int column) const { return cursor_->integer(column); }
  std::string text(int column) const { return cursor_->text(column); }
  std::vector<std::uint8_t> blob(int column) const { return cursor_->blob(column); }
  bool is_null(int column) const { return cursor_->is_null(column); }

 private:
  std::unique_ptr<Cursor> cursor_;
};

class Database {
 public:
  explicit Database(std::unique_ptr<Connection> connection) : connection_(std::move(connection)) {}

  // Opens an SQLite file (creating it) or connects to PostgreSQL, by is_postgresql_location.
  // An unreachable PostgreSQL is Errc::unavailable, naming the server but not the password.
  static Expected<Database> open(std::string_view location);

  Backend backend() const { return connection_->backend(); }
  Expected<Statement> prepare(std::string_view sql) {
    return Statement(CAIRN_TRY(connection_->prepare(sql)));
  }
  Status execute(std::string_view sql) { return connection_->execute(sql); }

  // Runs `body` in a write transaction: committed when it succeeds, rolled back when it fails.
  template <class Body>
  auto in_transaction(Body&& body) -> decltype(body()) {
    CAIRN_CHECK(connection_->begin_write());
    auto result = body();
    if (!result) {
      (void)connection_->execute("ROLLBACK");
      return result;
    }
    if (auto committed = connection_->execute("COMMIT"); !committed) {
      (void)connection_->execute("ROLLBACK");
      return std::unexpected(std::move(committed).error());
    }
    return result;
  }

 private:
  std::unique_ptr<Connection> connection_;
};

// The location with any password in it replaced by "***", for messages and logs.
std::string redact_location(std::string_view location);

}  // namespace cairn::attest::verifier::sql
