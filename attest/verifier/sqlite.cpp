#include "attest/verifier/sqlite.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <utility>

namespace cairn::attest::verifier::sql {

namespace {

std::unexpected<Error> fail_sqlite(sqlite3* db, std::string_view what) {
  return fail(Errc::io, std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

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
  ~StatementPool() {
    for (auto& [sql, statement] : kept_) sqlite3_finalize(statement);
  }

  sqlite3_stmt* take(const std::string& sql) {  // null when none is kept
    auto it = std::ranges::find(kept_, sql, &std::pair<std::string, sqlite3_stmt*>::first);
    if (it == kept_.end()) return nullptr;
    sqlite3_stmt* statement = it->second;
    kept_.erase(it);
    return statement;
  }

  void give_back(const std::string& sql, sqlite3_stmt* statement) {
    constexpr std::size_t kMaxKept = 64;  // the verifier uses a few dozen distinct statements
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    if (kept_.size() >= kMaxKept) {
      sqlite3_finalize(statement);
      return;
    }
    kept_.emplace_back(sql, statement);
  }

 private:
  std::vector<std::pair<std::string, sqlite3_stmt*>> kept_;
};

class SqliteCursor final : public Cursor {
 public:
  SqliteCursor(sqlite3* db, sqlite3_stmt* statement, std::string sql, StatementPool* pool)
      : db_(db), statement_(statement), sql_(std::move(sql)), pool_(pool) {}
  SqliteCursor(const SqliteCursor&) = delete;
  SqliteCursor& operator=(const SqliteCursor&) = delete;
  ~SqliteCursor() override { pool_->give_back(sql_, statement_); }

  void bind_integer(int index, std::int64_t value) override {
    check_bind(sqlite3_bind_int64(statement_, index, value), index);
  }
  void bind_text(int index, std::string_view text) override {
    check_bind(sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                                 SQLITE_TRANSIENT),
               index);
  }
  void bind_blob(int index, std::span<const std::uint8_t> blob) override {
    // A zero-length blob with a null pointer would bind NULL: give SQLite a valid pointer.
    static const std::uint8_t kEmpty = 0;
    check_bind(sqlite3_bind_blob(statement_, index, blob.empty() ? &kEmpty : blob.data(),
                                 static_cast<int>(blob.size()), SQLITE_TRANSIENT),
               index);
  }
  void bind_null(int index) override { check_bind(sqlite3_bind_null(statement_, index), index); }

  Expected<bool> step() override {
    if (bind_error_) return std::unexpected(*bind_error_);
    int rc = sqlite3_step(statement_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return fail_sqlite(db_, "running \"" + sql_ + "\"");
  }
  Expected<int> run() override {
    while (CAIRN_TRY(step())) {
    }
    return sqlite3_changes(db_);
  }

  std::int64_t integer(int column) const override {
    return sqlite3_column_int64(statement_, column);
  }
  std::string text(int column) const override {
    const auto* data = sqlite3_column_text(statement_, column);
    int size = sqlite3_column_bytes(statement_, column);
    return data ? std::string(reinterpret_cast<const char*>(data), static_cast<std::size_t>(size))
                : std::string();
  }
  std::vector<std::uint8_t> blob(int column) const override {
    const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(statement_, column));
    int size = sqlite3_column_bytes(statement_, column);
    return data ? std::vector<std::uint8_t>(data, data + size) : std::vector<std::uint8_t>();
  }
  bool is_null(int column) const override {
    return sqlite3_column_type(statement_, column) == SQLITE_NULL;
  }

 private:
  void check_bind(int rc, int index) {
    if (rc != SQLITE_OK && !bind_error_) {
      bind_error_ =
          fail_sqlite(db_, "binding parameter " + std::to_string(index) + " of \"" + sql_ + "\"")
              .error();
    }
  }

  sqlite3* db_;
  sqlite3_stmt* statement_;
  std::string sql_;
  StatementPool* pool_;
  std::optional<Error> bind_error_;  // the first failed bind, reported by step()
};

class SqliteConnection final : public Connection {
 public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}

  Backend backend() const override { return Backend::sqlite; }

  Expected<std::unique_ptr<Cursor>> prepare(std::string_view sql) override {
    std::string text(sql);
    sqlite3_stmt* statement = pool_.take(text);
    if (!statement) {
      int rc = sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &statement,
                                  nullptr);
      if (rc != SQLITE_OK) {
        sqlite3_finalize(statement);
        return fail_sqlite(db_.get(), "preparing \"" + text + "\"");
      }
    }
    return std::make_unique<SqliteCursor>(db_.get(), statement, std::move(text), &pool_);
  }

  Status execute(std::string_view sql) override {
    char* message = nullptr;
    std::string text(sql);
    if (sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      std::string reason = message ? message : sqlite3_errmsg(db_.get());
      sqlite3_free(message);
      return fail(Errc::io, "running \"" + text.substr(0, 60) + "\": " + reason);
    }
    return {};
  }

  Status begin_write() override { return execute("BEGIN IMMEDIATE"); }

 private:
  std::unique_ptr<sqlite3, DatabaseDeleter> db_;
  // After db_: destroyed first, so its statements are finalized before the connection closes.
  StatementPool pool_;
};

}  // namespace

Expected<std::unique_ptr<Connection>> open_sqlite(const std::filesystem::path& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  auto connection = std::make_unique<SqliteConnection>(raw);  // owns the handle even on failure
  if (rc != SQLITE_OK) return fail_sqlite(raw, "opening database " + path.string());
  sqlite3_extended_result_codes(raw, 1);
  return connection;
}

}  // namespace cairn::attest::verifier::sql
