// A process a test starts and must stop again: swtpm, QEMU, etcd. RAII, so a failing test (an
// exception out of a Catch2 section) still stops everything it started.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace cairn::testing {

class BackgroundProcess {
 public:
  // Starts argv in its own process group with stdout and stderr appended to `log`. The child
  // gets SIGKILL if the test process dies, so nothing outlives a crashed test either.
  static Expected<BackgroundProcess> start(const std::vector<std::string>& argv,
                                           const std::filesystem::path& log);

  BackgroundProcess(BackgroundProcess&& other) noexcept;
  BackgroundProcess& operator=(BackgroundProcess&& other) noexcept;
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;
  ~BackgroundProcess() { stop(); }

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  // True while the process has not exited (reaps it when it has).
  bool running();
  // Waits for the process to exit on its own; its exit code (128 + signal when killed), or
  // Errc::busy if it is still running after `timeout`.
  Expected<int> wait(std::chrono::milliseconds timeout);
  // SIGTERM to the group, then SIGKILL after `grace`. Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  BackgroundProcess(pid_t pid, std::string name) : pid_(pid), name_(std::move(name)) {}
  bool reap(int options);

  pid_t pid_ = -1;
  std::string name_;
  int exit_code_ = -1;
};

}  // namespace cairn::testing
