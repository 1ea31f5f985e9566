#include "attest/verifier/sqlite.hpp"

#include <algorithm>

namespace cairn::attest::verifier::sql {

namespace {

std::unexpected<Error> fail_sqlite(sqlite3* db, std::string_view what) {
  return fail(Errc::io, std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

}  // namespace

void Statement::check_bind(int rc, int index) {
  if (rc != SQLITE_OK && !bind_error_) {
    bind_error_ =
        fail_sqlite(db_, "binding parameter " + std::to_string(index) + " of \"" + sql_ + "\"")
            .error();
  }
}

Statement& Statement::bind(int index, std::int64_t value) {
  check_bind(sqlite3_bind_int64(statement_.get(), index, value), index);
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  check_bind(sqlite3_bind_text(statement_.get(), index, text.data(), static_cast<int>(text.size()),
                               SQLITE_TRANSIENT),
             index);
  return *this;
}

Statement& Statement::bind_blob(int index, std::span<const std::uint8_t> blob) {
  // A zero-length blob with a null pointer would bind NULL: give SQLite a valid pointer.
  static const std::uint8_t kEmpty = 0;
  check_bind(sqlite3_bind_blob(statement_.get(), index, blob.empty() ? &kEmpty : blob.data(),
                               static_cast<int>(blob.size()), SQLITE_TRANSIENT),
             index);
  return *this;
}

Statement& Statement::bind_null(int index) {
  check_bind(sqlite3_bind_null(statement_.get(), index), index);
  return *this;
}

Expected<bool> Statement::step() {
  if (bind_error_) return std::unexpected(*bind_error_);
  int rc = sqlite3_step(statement_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return fail_sqlite(db_, "running \"" + sql_ + "\"");
}

Expected<int> Statement::run() {
  while (CAIRN_TRY(step())) {
  }
  return sqlite3_changes(db_);
}

std::int64_t Statement::integer(int column) const {
  return sqlite3_column_int64(statement_.get(), column);
}

std::string Statement::text(int column) const {
  const auto* data = sqlite3_column_text(statement_.get(), column);
  int size = sqlite3_column_bytes(statement_.get(), column);
  return data ? std::string(reinterpret_cast<const char*>(data), static_cast<std::size_t>(size))
              : std::string();
}

std::vector<std::uint8_t> Statement::blob(int column) const {
  const auto* data =
      static_cast<const std::uint8_t*>(sqlite3_column_blob(statement_.get(), column));
  int size = sqlite3_column_bytes(statement_.get(), column);
  return data ? std::vector<std::uint8_t>(data, data + size) : std::vector<std::uint8_t>();
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(statement_.get(), column) == SQLITE_NULL;
}

Expected<Database> Database::open(const std::filesystem::path& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  Database db(raw);  // owns the handle even when opening failed
  if (rc != SQLITE_OK) return fail_sqlite(raw, "opening database " + path.string());
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

StatementPool::~StatementPool() {
  for (auto& [sql, statement] : kept_) sqlite3_finalize(statement);
}

sqlite3_stmt* StatementPool::take(const std::string& sql) {
  auto it = std::ranges::find(kept_, sql, &std::pair<std::string, sqlite3_stmt*>::first);
  if (it == kept_.end()) return nullptr;
  sqlite3_stmt* statement = it->second;
  kept_.erase(it);
  return statement;
}

void StatementPool::give_back(const std::string& sql, sqlite3_stmt* statement) {
  constexpr std::size_t kMaxKept = 64;  // the verifier uses a few dozen distinct statements
  sqlite3_reset(statement);
  sqlite3_clear_bindings(statement);
  if (kept_.size() >= kMaxKept) {
    sqlite3_finalize(statement);
    return;
  }
  kept_.emplace_back(sql, statement);
}

Expected<Statement> Database::prepare(std::string_view sql) {
  std::string text(sql);
  if (sqlite3_stmt* kept = pool_->take(text)) {
    return Statement(db_.get(), kept, std::move(text), pool_.get());
  }
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(raw);
    return fail_sqlite(db_.get(), "preparing \"" + text + "\"");
  }
  return Statement(db_.get(), raw, std::move(text), pool_.get());
}

Status Database::execute(std::string_view sql) {
  char* message = nullptr;
  std::string text(sql);
  if (sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string reason = message ? message : sqlite3_errmsg(db_.get());
    sqlite3_free(message);
    return fail(Errc::io, "running \"" + text.substr(0, 60) + "\": " + reason);
  }
  return {};
}

Expected<std::int64_t> Database::user_version() {
  auto statement = CAIRN_TRY(prepare("PRAGMA user_version"));
  if (!CAIRN_TRY(statement.step())) return fail(Errc::io, "PRAGMA user_version gave no row");
  return statement.integer(0);
}

}  // namespace cairn::attest::verifier::sql
