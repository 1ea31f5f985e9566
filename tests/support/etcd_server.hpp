// A throwaway etcd for a test: Debian's etcd-server (/usr/bin/etcd) as a one-member cluster on
// 127.0.0.1, its data in a fresh temporary directory. RAII: the destructor stops it (SIGTERM,
// then SIGKILL) and removes the directory; it also dies with a crashed test process.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "support/background_process.hpp"

namespace cairn::testing {

class EtcdServer {
 public:
  // Starts etcd and waits until it answers /health (at most `ready_within`). etcd cannot listen
  // on port 0, so free ports are picked first; if another process takes one in between, etcd
  // exits and a start with other ports is tried.
  static Expected<EtcdServer> start(
      std::chrono::milliseconds ready_within = std::chrono::seconds(20));

  EtcdServer(EtcdServer&&) noexcept = default;
  EtcdServer& operator=(EtcdServer&&) = delete;
  ~EtcdServer() = default;  // process_ stops before dir_ goes

  // "http://127.0.0.1:<port>"
  const std::string& endpoint() const { return endpoint_; }
  // Stops etcd now (a test of an etcd that went away); idempotent.
  void stop() { process_.stop(); }

 private:
  EtcdServer(TempDir dir, BackgroundProcess process, std::string endpoint)
      : dir_(std::move(dir)), process_(std::move(process)), endpoint_(std::move(endpoint)) {}

  TempDir dir_;
  BackgroundProcess process_;
  std::string endpoint_;
};

}  // namespace cairn::testing
