// A software TPM 2.0 (swtpm) for one test machine, with its own state directory: the TPM a
// QEMU guest measures into, and later the one cairn-attest quotes from.
#pragma once

#include <filesystem>

#include "support/background_process.hpp"

namespace cairn::qemu {

class Swtpm {
 public:
  // Starts swtpm with state in `dir` (created; kept across restarts of the same machine, as a
  // real TPM keeps its state across reboots) and its control socket in `dir`/swtpm.sock.
  // Not started with startup-clear: QEMU's firmware sends TPM2_Startup itself.
  static Expected<Swtpm> start(const std::filesystem::path& dir);

  const std::filesystem::path& socket() const { return socket_; }
  const std::filesystem::path& log() const { return log_; }
  bool running() { return process_.running(); }
  pid_t pid() const { return process_.pid(); }

 private:
  Swtpm(testing::BackgroundProcess process, std::filesystem::path socket, std::filesystem::path log)
      : process_(std::move(process)), socket_(std::move(socket)), log_(std::move(log)) {}

  testing::BackgroundProcess process_;
  std::filesystem::path socket_, log_;
};

}  // namespace cairn::qemu
