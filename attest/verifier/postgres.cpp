#include "attest/verifier/postgres.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <cstring>
#include <map>

namespace cairn::attest::verifier::sql {

namespace {

struct ConnectionDeleter {
  void operator()(PGconn* connection) const { PQfinish(connection); }
};
struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// libpq's message on one line: its hint lines ("\n\tIs the server running…") joined with a space.
std::string trimmed(const char* message) {
  std::string text;
  for (const char* c = message ? message : ""; *c; ++c) {
    bool blank = *c == '\n' || *c == '\t' || *c == ' ';
    if (!blank) {
      text += *c;
    } else if (!text.empty() && text.back() != ' ') {
      text += ' ';
    }
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

class PostgresConnection;

class PostgresCursor final : public Cursor {
 public:
  PostgresCursor(PostgresConnection& owner, std::string name, std::string sql, int parameters)
      : owner_(owner),
        name_(std::move(name)),
        sql_(std::move(sql)),
        values_(static_cast<std::size_t>(parameters)),
        formats_(static_cast<std::size_t>(parameters), 0) {}

  void bind_integer(int index, std::int64_t value) override {
    set(index, std::to_string(value), 0);
  }
  void bind_text(int index, std::string_view text) override { set(index, std::string(text), 0); }
  void bind_blob(int index, std::span<const std::uint8_t> blob) override {
    set(index, std::string(blob.begin(), blob.end()), 1);  // binary: no escaping round trip
  }
  void bind_null(int index) override { set(index, std::nullopt, 0); }

  Expected<bool> step() override {
    if (!result_) CAIRN_CHECK(execute());
    return ++row_ < PQntuples(result_.get());
  }
  Expected<int> run() override {
    CAIRN_CHECK(execute());
    const char* changed = PQcmdTuples(result_.get());
    return changed && *changed ? std::atoi(changed) : 0;
  }

  std::int64_t integer(int column) const override {
    const char* value = PQgetvalue(result_.get(), row_, column);
    std::int64_t number = 0;
    std::from_chars(value, value + std::strlen(value), number);
    return number;
  }
  std::string text(int column) const override {
    return {PQgetvalue(result_.get(), row_, column),
            static_cast<std::size_t>(PQgetlength(result_.get(), row_, column))};
  }
  std::vector<std::uint8_t> blob(int column) const override {
    std::size_t size = 0;
    auto* bytes = PQunescapeBytea(
        reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row_, column)), &size);
    if (!bytes) return {};
    std::vector<std::uint8_t> out(bytes, bytes + size);
    PQfreemem(bytes);
    return out;
  }
  bool is_null(int column) const override { return PQgetisnull(result_.get(), row_, column) != 0; }

 private:
  void set(int index, std::optional<std::string> value, int format) {
    if (index < 1 || static_cast<std::size_t>(index) > values_.size()) {
      if (!bind_error_) {
        bind_error_ = Error(Errc::internal, "parameter " + std::to_string(index) + " of \"" + sql_ +
                                                "\" does not exist");
      }
      return;
    }
    values_[static_cast<std::size_t>(index - 1)] = std::move(value);
    formats_[static_cast<std::size_t>(index - 1)] = format;
  }
  Status execute();

  PostgresConnection& owner_;
  std::string name_;
  std::string sql_;
  std::vector<std::optional<std::string>> values_;
  std::vector<int> formats_;
  std::optional<Error> bind_error_;
  ResultPtr result_;
  int row_ = -1;
};

class PostgresConnection final : public Connection {
 public:
  PostgresConnection(PGconn* connection, std::string location)
      : connection_(connection), location_(std::move(location)) {
    // libpq prints the server's notices ("relation … already exists, skipping") on stderr;
    // library code never prints.
    PQsetNoticeProcessor(
        connection, [](void*, const char*) {}, nullptr);
  }

  Backend backend() const override { return Backend::postgresql; }

  Expected<std::unique_ptr<Cursor>> prepare(std::string_view sql) override {
    CAIRN_CHECK(ensure_connected());
    std::string text(sql);
    auto known = prepared_.find(text);
    if (known == prepared_.end()) {
      std::string numbered = number_parameters(sql);
      std::string name = "cairn_" + std::to_string(prepared_.size() + 1);
      ResultPtr result(PQprepare(connection_.get(), name.c_str(), numbered.c_str(), 0, nullptr));
      if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
        return failure(result.get(), "preparing \"" + text + "\"");
      }
      int parameters = 0;
      ResultPtr described(PQdescribePrepared(connection_.get(), name.c_str()));
      if (PQresultStatus(described.get()) == PGRES_COMMAND_OK) {
        parameters = PQnparams(described.get());
      }
      known = prepared_.emplace(text, Prepared{.name = std::move(name), .parameters = parameters})
                  .first;
    }
    return std::make_unique<PostgresCursor>(*this, known->second.name, std::move(text),
                                            known->second.parameters);
  }

  Status execute(std::string_view sql) override {
    CAIRN_CHECK(ensure_connected());
    std::string text(sql);
    ResultPtr result(PQexec(connection_.get(), text.c_str()));
    auto status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      return failure(result.get(), "running \"" + text.substr(0, 60) + "\"");
    }
    return {};
  }

  Status begin_write() override { return execute("BEGIN"); }

  Expected<ResultPtr> run_prepared(const std::string& name, const std::string& sql,
                                   const std::vector<std::optional<std::string>>& values,
                                   const std::vector<int>& formats) {
    std::vector<const char*> pointers;
    std::vector<int> lengths;
    for (const auto& value : values) {
      pointers.push_back(value ? value->data() : nullptr);
      lengths.push_back(value ? static_cast<int>(value->size()) : 0);
    }
    ResultPtr result(PQexecPrepared(connection_.get(), name.c_str(),
                                    static_cast<int>(values.size()), pointers.data(),
                                    lengths.data(), formats.data(), 0));
    auto status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      return failure(result.get(), "running \"" + sql + "\"");
    }
    return result;
  }

 private:
  struct Prepared {
    std::string name;
    int parameters = 0;
  };

  // A broken connection is reset once; its prepared statements went with the old session.
  Status ensure_connected() {
    if (PQstatus(connection_.get()) == CONNECTION_OK) return {};
    PQreset(connection_.get());
    prepared_.clear();
    if (PQstatus(connection_.get()) != CONNECTION_OK) {
      return fail(Errc::unavailable,
                  "PostgreSQL at " + redact_location(location_) +
                      " cannot be reached: " + trimmed(PQerrorMessage(connection_.get())));
    }
    return {};
  }

  std::unexpected<Error> failure(PGresult* result, const std::string& what) {
    bool lost = PQstatus(connection_.get()) != CONNECTION_OK;
    std::string reason = result ? trimmed(PQresultErrorMessage(result)) : "";
    if (reason.empty()) reason = trimmed(PQerrorMessage(connection_.get()));
    return fail(lost ? Errc::unavailable : Errc::io, what + ": " + reason);
  }

  std::unique_ptr<PGconn, ConnectionDeleter> connection_;
  std::string location_;
  std::map<std::string, Prepared, std::less<>> prepared_;
};

Status PostgresCursor::execute() {
  if (bind_error_) return std::unexpected(*bind_error_);
  result_ = CAIRN_TRY(owner_.run_prepared(name_, sql_, values_, formats_));
  row_ = -1;
  return {};
}

}  // namespace

std::string number_parameters(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 8);
  int next = 0;
  char quote = 0;  // the quote character of the literal or identifier being copied
  for (char c : sql) {
    if (quote) {
      if (c == quote) quote = 0;  // a doubled quote closes and reopens: same result
      out += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      out += c;
    } else if (c == '?') {
      out += "$" + std::to_string(++next);
    } else {
      out += c;
    }
  }
  return out;
}

Expected<std::unique_ptr<Connection>> open_postgresql(std::string_view location) {
  std::string uri(location);
  // connect_timeout first: a value in the URI, expanded from dbname after it, takes precedence.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"5", "cairn-verifier", uri.c_str(), nullptr};
  PGconn* raw = PQconnectdbParams(keys, values, 1);
  if (!raw) return fail(Errc::internal, "libpq could not allocate a connection");
  if (PQstatus(raw) != CONNECTION_OK) {
    std::string reason = trimmed(PQerrorMessage(raw));
    PQfinish(raw);
    return fail(Errc::unavailable,
                "PostgreSQL at " + redact_location(location) + " cannot be reached: " + reason);
  }
  return std::make_unique<PostgresConnection>(raw, uri);
}

}  // namespace cairn::attest::verifier::sql
