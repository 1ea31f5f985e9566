// A channel repository served over HTTP on 127.0.0.1 for a test: tests/integration/
// channel_server.py (the same server the integration scripts start) over a directory the test
// publishes into. RAII: the destructor stops it.
#pragma once

#include <filesystem>

#include "common/error.hpp"
#include "support/background_process.hpp"

namespace cairn::testing {

class ChannelServer {
 public:
  // Serves `repo`; the server's log and port file go into `work_dir`. Waits (10 s at most) until
  // the server has told its port.
  static Expected<ChannelServer> start(const std::filesystem::path& source_dir,
                                       const std::filesystem::path& repo,
                                       const std::filesystem::path& work_dir);

  int port() const { return port_; }

 private:
  ChannelServer(BackgroundProcess process, int port) : process_(std::move(process)), port_(port) {}

  BackgroundProcess process_;
  int port_;
};

}  // namespace cairn::testing
