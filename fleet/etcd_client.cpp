// The etcd v3 JSON gateway as etcd 3.4.23 (Debian 12's etcd-server) answers it, checked by hand
// with curl against a one-member cluster:
//
// - Every call is a POST of one JSON object to /v3/<service>/<method>; the answer is one object
//   (read by etcd_json.hpp). Errors come back as HTTP 4xx/5xx with {"error", "message", "code"},
//   e.g. 404 and gRPC code 5 for "etcdserver: requested lease not found"; an unknown path is a
//   plain-text 404.
// - /v3/lease/keepalive is a gRPC stream, but one POST carrying one request gets exactly one
//   answer, {"result": {"ID", "TTL"}}, in a chunked body that ends at once (5 ms) and leaves the
//   connection open for the next request. For a lease that has expired or never existed the
//   answer carries no "TTL" (0), not an error. So keep_alive is a single request, and
//   /v3/lease/timetolive is not needed. A stream error would come as {"error": {"message",
//   "grpc_code", …}} with status 200.
// - A lease's TTL is at least 2 s: etcd raises smaller TTLs to its minimum (1.5 × the election
//   timeout of 1 s, rounded up), so a grant of 1 s answers "TTL": "2".
#include "fleet/etcd_client.hpp"

#include <curl/curl.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/base64.hpp"
#include "common/strict_json.hpp"
#include "fleet/etcd_json.hpp"

namespace cairn::fleet {
namespace {

using nlohmann::json;

// An answer larger than this is refused rather than held in memory: a fleet of 10 000 hosts lists
// in about 10 MB (host records of ~500 bytes, base64 adds a third).
constexpr std::size_t kMaxAnswerBytes = 64u << 20;

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

std::string quoted(std::string_view key) { return "'" + printable(key) + "'"; }

}  // namespace

// One libcurl easy handle for the client's life: libcurl keeps its connection open between
// requests, so a poll's few requests cost one TCP (and TLS) handshake. Not thread-safe.
class EtcdClient::Connection {
 public:
  Connection(std::string endpoint, const EtcdOptions& options,
             std::unique_ptr<CURL, CurlDeleter> curl,
             std::unique_ptr<curl_slist, SlistDeleter> headers)
      : endpoint_(std::move(endpoint)), curl_(std::move(curl)), headers_(std::move(headers)) {
    CURL* c = curl_.get();
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers_.get());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.connect_timeout.count()));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options.request_timeout.count()));
    if (!options.ca_file.empty()) {
      curl_easy_setopt(c, CURLOPT_CAINFO, options.ca_file.c_str());
      curl_easy_setopt(c, CURLOPT_CAPATH, nullptr);  // this CA only
    }
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer_);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, this);
  }

  const std::string& endpoint() const { return endpoint_; }
  unsigned requests() const { return requests_; }

  // POSTs `request` to `path` ("/v3/kv/range"); etcd's answer, a JSON object.
  Expected<json> post(const char* path, const json& request) {
    std::string url = endpoint_ + path;
    std::string body = request.dump();  // keys and values are base64: ASCII only
    CURL* c = curl_.get();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    answer_.clear();
    too_large_ = false;
    error_buffer_[0] = '\0';
    ++requests_;
    CURLcode code = curl_easy_perform(c);
    if (too_large_) {
      return fail(Errc::unavailable, "etcd at " + endpoint_ + " answered more than " +
                                         std::to_string(kMaxAnswerBytes >> 20) + " MiB");
    }
    if (code != CURLE_OK) {
      std::string reason = error_buffer_[0] ? error_buffer_ : curl_easy_strerror(code);
      return fail(Errc::unavailable, "etcd at " + endpoint_ + " unreachable: " + reason);
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    auto parsed = parse_strict_json(answer_, "answer");
    std::optional<EtcdFailure> failure;
    if (parsed) failure = reported_failure(*parsed);
    if (status / 100 != 2) {
      if (!failure) failure = EtcdFailure{.message = answer_.empty() ? "(no message)" : answer_};
      return fail(errc_of(failure->grpc_code), "etcd at " + endpoint_ + " refused it (HTTP " +
                                                   std::to_string(status) +
                                                   "): " + printable(failure->message));
    }
    if (failure) {
      return fail(errc_of(failure->grpc_code),
                  "etcd at " + endpoint_ + " refused it: " + printable(failure->message));
    }
    if (!parsed) return unreadable(parsed.error().message());
    if (!parsed->is_object()) return unreadable("not a JSON object");
    return std::move(*parsed);
  }

  // An answer this client cannot read: a server that is not etcd, or a broken one.
  std::unexpected<Error> unreadable(const std::string& why) const {
    return fail(Errc::unavailable, "etcd at " + endpoint_ + " gave an unreadable answer: " + why);
  }
  template <class T>
  Expected<T> readable(Expected<T> parsed) const {
    if (parsed) return parsed;
    return unreadable(parsed.error().message());
  }

 private:
  static std::size_t collect(char* data, std::size_t size, std::size_t count, void* self_ptr) {
    auto* self = static_cast<Connection*>(self_ptr);
    if (self->answer_.size() + size * count > kMaxAnswerBytes) {
      self->too_large_ = true;
      return 0;  // ends the transfer
    }
    self->answer_.append(data, size * count);
    return size * count;
  }

  std::string endpoint_;
  std::unique_ptr<CURL, CurlDeleter> curl_;
  std::unique_ptr<curl_slist, SlistDeleter> headers_;
  std::string answer_;
  bool too_large_ = false;
  unsigned requests_ = 0;
  char error_buffer_[CURL_ERROR_SIZE] = {};
};

namespace {

// proto3's JSON mapping: int64 as a decimal string (a JSON number loses precision past 2^53).
std::string encoded_int(std::int64_t value) { return std::to_string(value); }

}  // namespace

Expected<EtcdClient> EtcdClient::open(std::string endpoint, EtcdOptions options) {
  if (!endpoint.starts_with("http://") && !endpoint.starts_with("https://")) {
    return fail(Errc::invalid_input,
                "etcd endpoint '" + endpoint + "' must start with http:// or https://");
  }
  while (endpoint.back() == '/') endpoint.pop_back();
  static std::once_flag curl_ready;
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  // No "Expect: 100-continue" round trip before larger bodies.
  std::unique_ptr<curl_slist, SlistDeleter> headers(
      curl_slist_append(nullptr, "Content-Type: application/json"));
  if (headers) {
    curl_slist* more = curl_slist_append(headers.get(), "Expect:");
    if (!more) headers.reset();
  }
  if (!curl || !headers) return fail(Errc::internal, "libcurl could not allocate a handle");
  return EtcdClient(std::make_unique<Connection>(std::move(endpoint), options, std::move(curl),
                                                 std::move(headers)));
}

EtcdClient::EtcdClient(std::unique_ptr<Connection> connection)
    : connection_(std::move(connection)) {}
EtcdClient::EtcdClient(EtcdClient&&) noexcept = default;
EtcdClient& EtcdClient::operator=(EtcdClient&&) noexcept = default;
EtcdClient::~EtcdClient() = default;

const std::string& EtcdClient::endpoint() const { return connection_->endpoint(); }

unsigned EtcdClient::requests_sent() const { return connection_ ? connection_->requests() : 0; }

Expected<std::optional<EtcdKeyValue>> EtcdClient::get(std::string_view key) {
  auto read = [&]() -> Expected<std::optional<EtcdKeyValue>> {
    json answer = CAIRN_TRY(connection_->post("/v3/kv/range", {{"key", base64_encode(key)}}));
    auto kvs = CAIRN_TRY(connection_->readable(parse_range(answer)));
    if (kvs.empty()) return std::nullopt;
    if (kvs.size() > 1 || kvs.front().key != key) {
      return connection_->unreadable("a range of one key held another");
    }
    return std::move(kvs.front());
  };
  return with_context(read(), "reading " + quoted(key));
}

Expected<std::optional<EtcdKeyValue>> EtcdClient::get_at(std::string_view key,
                                                         std::int64_t revision) {
  auto read = [&]() -> Expected<std::optional<EtcdKeyValue>> {
    json answer = CAIRN_TRY(connection_->post(
        "/v3/kv/range", {{"key", base64_encode(key)}, {"revision", encoded_int(revision)}}));
    auto kvs = CAIRN_TRY(connection_->readable(parse_range(answer)));
    if (kvs.empty()) return std::nullopt;
    if (kvs.size() > 1 || kvs.front().key != key) {
      return connection_->unreadable("a range of one key held another");
    }
    return std::move(kvs.front());
  };
  return with_context(read(),
                      "reading " + quoted(key) + " at revision " + std::to_string(revision));
}

Expected<std::vector<EtcdKeyValue>> EtcdClient::get_prefix(std::string_view prefix) {
  auto read = [&]() -> Expected<std::vector<EtcdKeyValue>> {
    json answer = CAIRN_TRY(connection_->post(
        "/v3/kv/range",
        {{"key", base64_encode(prefix.empty() ? std::string_view("\0", 1) : prefix)},
         {"range_end", base64_encode(prefix_end(prefix))}}));
    return connection_->readable(parse_range(answer));
  };
  return with_context(read(), "listing the keys under " + quoted(prefix));
}

Status EtcdClient::put(std::string_view key, std::string_view value, std::int64_t lease) {
  json request{{"key", base64_encode(key)}, {"value", base64_encode(value)}};
  if (lease != 0) request["lease"] = encoded_int(lease);
  auto run = [&]() -> Status {
    CAIRN_CHECK(connection_->post("/v3/kv/put", request));
    return {};
  };
  return with_context(run(), "writing " + quoted(key));
}

Expected<std::int64_t> EtcdClient::remove(std::string_view key) {
  auto run = [&]() -> Expected<std::int64_t> {
    json answer = CAIRN_TRY(connection_->post("/v3/kv/deleterange", {{"key", base64_encode(key)}}));
    return connection_->readable(int64_field(answer, "deleted"));
  };
  return with_context(run(), "deleting " + quoted(key));
}

Expected<std::int64_t> EtcdClient::remove_prefix(std::string_view prefix) {
  auto run = [&]() -> Expected<std::int64_t> {
    json answer = CAIRN_TRY(connection_->post(
        "/v3/kv/deleterange",
        {{"key", base64_encode(prefix.empty() ? std::string_view("\0", 1) : prefix)},
         {"range_end", base64_encode(prefix_end(prefix))}}));
    return connection_->readable(int64_field(answer, "deleted"));
  };
  return with_context(run(), "deleting the keys under " + quoted(prefix));
}

namespace {

// The txn condition "`key` was last written at `mod_revision`"; for 0, "`key` does not exist"
// (an absent key's create_revision is 0).
json unchanged_since(std::string_view key, std::int64_t mod_revision) {
  if (mod_revision == 0) {
    return {{"key", base64_encode(key)},
            {"target", "CREATE"},
            {"result", "EQUAL"},
            {"create_revision", "0"}};
  }
  return {{"key", base64_encode(key)},
          {"target", "MOD"},
          {"result", "EQUAL"},
          {"mod_revision", encoded_int(mod_revision)}};
}

}  // namespace

Expected<bool> EtcdClient::put_if(std::string_view key, std::string_view value,
                                  std::int64_t expected_mod_revision, std::int64_t lease) {
  return write_if(key, expected_mod_revision,
                  {Put{.key = std::string(key), .value = std::string(value), .lease = lease}});
}

Expected<bool> EtcdClient::remove_if(std::string_view key, std::int64_t expected_mod_revision) {
  return write_if(key, expected_mod_revision, {Delete{.key = std::string(key)}});
}

Expected<bool> EtcdClient::write_if(std::string_view key, std::int64_t expected_mod_revision,
                                    const std::vector<Write>& writes) {
  json operations = json::array();
  for (const auto& write : writes) {
    if (const auto* put = std::get_if<Put>(&write)) {
      json request{{"key", base64_encode(put->key)}, {"value", base64_encode(put->value)}};
      if (put->lease != 0) request["lease"] = encoded_int(put->lease);
      operations.push_back({{"request_put", std::move(request)}});
    } else {
      operations.push_back(
          {{"request_delete_range", {{"key", base64_encode(std::get<Delete>(write).key)}}}});
    }
  }
  auto run = [&]() -> Expected<bool> {
    json answer = CAIRN_TRY(connection_->post(
        "/v3/kv/txn", {{"compare", json::array({unchanged_since(key, expected_mod_revision)})},
                       {"success", std::move(operations)}}));
    return connection_->readable(bool_field(answer, "succeeded"));
  };
  return with_context(run(), "writing " + std::to_string(writes.size()) + " keys if " +
                                 quoted(key) + " is unchanged since revision " +
                                 std::to_string(expected_mod_revision));
}

Expected<std::int64_t> EtcdClient::grant_lease(std::chrono::seconds ttl) {
  auto run = [&]() -> Expected<std::int64_t> {
    json answer =
        CAIRN_TRY(connection_->post("/v3/lease/grant", {{"TTL", encoded_int(ttl.count())}}));
    auto id = CAIRN_TRY(connection_->readable(int64_field(answer, "ID")));
    if (id == 0) return connection_->unreadable("a granted lease without an ID");
    return id;
  };
  return with_context(run(), "granting a lease of " + std::to_string(ttl.count()) + " s");
}

Expected<std::chrono::seconds> EtcdClient::keep_alive(std::int64_t lease) {
  auto run = [&]() -> Expected<std::chrono::seconds> {
    json answer = CAIRN_TRY(connection_->post("/v3/lease/keepalive", {{"ID", encoded_int(lease)}}));
    auto result = answer.find("result");
    if (result == answer.end() || !result->is_object()) {
      return connection_->unreadable("no 'result' object");
    }
    if (CAIRN_TRY(connection_->readable(int64_field(*result, "ID"))) != lease) {
      return connection_->unreadable("the answer is about another lease");
    }
    auto ttl = CAIRN_TRY(connection_->readable(int64_field(*result, "TTL")));
    return std::chrono::seconds(ttl > 0 ? ttl : 0);
  };
  return with_context(run(), "renewing lease " + std::to_string(lease));
}

Status EtcdClient::revoke_lease(std::int64_t lease) {
  auto answer = connection_->post("/v3/lease/revoke", {{"ID", encoded_int(lease)}});
  // A lease that is already gone is what revoking wants: its keys are gone too.
  if (!answer && answer.error().code() != Errc::not_found) {
    return std::unexpected(
        std::move(answer.error()).with_context("revoking lease " + std::to_string(lease)));
  }
  return {};
}

}  // namespace cairn::fleet
