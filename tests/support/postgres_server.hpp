// A throwaway PostgreSQL 15 for a test or a benchmark: Debian's initdb and pg_ctl, a cluster in a
// fresh temporary directory, run as an unprivileged user (postgres refuses root: when the tests
// run as root, the cluster belongs to the "postgres" account the package creates, or "nobody").
// It listens on 127.0.0.1 only, with trust authentication for the "cairn" role. RAII: the
// destructor stops it (pg_ctl stop -m immediate) and removes the directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "common/fs.hpp"

namespace cairn::testing {

class PostgresServer {
 public:
  static Expected<PostgresServer> start();

  PostgresServer(PostgresServer&& other) noexcept;
  PostgresServer& operator=(PostgresServer&&) = delete;
  ~PostgresServer();

  // Creates an empty database; its URI, postgresql://cairn@127.0.0.1:<port>/<name>.
  Expected<std::string> create_database(std::string_view name);
  std::string url(std::string_view database) const;
  // Runs SQL through psql against `database`; its output (unaligned, tuples only).
  Expected<std::string> psql(std::string_view database, std::string_view sql);
  // Stops and starts the server again (a database outage and its end); the data stays.
  Status stop();
  Status start_again();
  std::uint16_t port() const { return port_; }

 private:
  PostgresServer(TempDir dir, std::string user, std::uint16_t port)
      : dir_(std::move(dir)), user_(std::move(user)), port_(port) {}
  Status pg_ctl_start();
  // "fast" (commits flushed: synchronous_commit is off) or "immediate".
  Status stop_in_mode(std::string_view mode);

  TempDir dir_;
  std::string user_;  // empty: this process's own user
  std::uint16_t port_;
  bool running_ = false;
};

}  // namespace cairn::testing
