// etcd v3 through its JSON gateway (grpc-gateway, /v3/…), with libcurl: Debian packages no C++
// etcd client, and the gateway is part of every etcd server. Keys and values travel base64
// encoded, 64-bit numbers as JSON strings (proto3's JSON mapping). One client is one HTTP
// connection reused between requests.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/error.hpp"

namespace cairn::fleet {

struct EtcdOptions {
  std::filesystem::path ca_file;  // https endpoints with a private CA
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds request_timeout{10000};
};

struct EtcdKeyValue {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;
  std::int64_t lease = 0;
};

// Errors name the operation and the endpoint: Errc::unavailable when etcd is unreachable or its
// answer unreadable, else from etcd's gRPC code (not_found, invalid_input, …) with its message.
// Not thread-safe: one client per thread.
class EtcdClient {
 public:
  // `endpoint`: "http://127.0.0.1:2379" (or https). Nothing is sent until the first request.
  static Expected<EtcdClient> open(std::string endpoint, EtcdOptions options = {});
  EtcdClient(EtcdClient&&) noexcept;
  EtcdClient& operator=(EtcdClient&&) noexcept;
  ~EtcdClient();

  const std::string& endpoint() const;

  Expected<std::optional<EtcdKeyValue>> get(std::string_view key);
  // The key as it was at `revision` (etcd keeps the history until it is compacted).
  Expected<std::optional<EtcdKeyValue>> get_at(std::string_view key, std::int64_t revision);
  // Every key starting with `prefix`, in key order.
  Expected<std::vector<EtcdKeyValue>> get_prefix(std::string_view prefix);
  // `lease` 0: no lease.
  Status put(std::string_view key, std::string_view value, std::int64_t lease = 0);
  // Returns how many keys were deleted.
  Expected<std::int64_t> remove(std::string_view key);
  Expected<std::int64_t> remove_prefix(std::string_view prefix);

  // Compare-and-swap in one transaction: writes `value` only if the key's mod_revision is
  // `expected_mod_revision` (0: the key must not exist). False when another writer came first.
  Expected<bool> put_if(std::string_view key, std::string_view value,
                        std::int64_t expected_mod_revision, std::int64_t lease = 0);
  // Deletes the key only if its mod_revision is `expected_mod_revision`.
  Expected<bool> remove_if(std::string_view key, std::int64_t expected_mod_revision);

  // Several writes in one transaction, made only if `key` was last written at
  // `expected_mod_revision` (0: `key` must not exist). False when another writer came first.
  struct Put {
    std::string key;
    std::string value;
    std::int64_t lease = 0;
  };
  struct Delete {
    std::string key;
  };
  using Write = std::variant<Put, Delete>;
  Expected<bool> write_if(std::string_view key, std::int64_t expected_mod_revision,
                          const std::vector<Write>& writes);

  // A lease of `ttl`; returns its ID.
  Expected<std::int64_t> grant_lease(std::chrono::seconds ttl);
  // Renews the lease; returns its TTL after renewal, 0 when it had already expired (or never
  // existed) — then its keys are gone.
  Expected<std::chrono::seconds> keep_alive(std::int64_t lease);
  // A lease that is already gone is no error.
  Status revoke_lease(std::int64_t lease);

  // HTTP requests this client has sent (bench/poll counts them).
  unsigned requests_sent() const;

 private:
  class Connection;
  explicit EtcdClient(std::unique_ptr<Connection> connection);
  std::unique_ptr<Connection> connection_;
};

}  // namespace cairn::fleet
