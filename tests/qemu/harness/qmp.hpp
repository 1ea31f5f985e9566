// A QEMU Machine Protocol client over QEMU's unix socket: power-off, reset and power cut for
// tests, and the events QEMU reports (SHUTDOWN, RESET, WATCHDOG …).
#pragma once

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/fs.hpp"

namespace cairn::qemu {

class QmpClient {
 public:
  // Connects (retrying until QEMU has created the socket) and leaves capability negotiation.
  static Expected<QmpClient> connect(const std::filesystem::path& socket,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Runs a command and returns its "return" value; a QMP error becomes Errc::process with
  // QEMU's description.
  Expected<nlohmann::json> execute(const std::string& command,
                                   const nlohmann::json& arguments = nlohmann::json::object());
  // Sends a command after which QEMU may close the connection without answering (quit).
  Status send_only(const std::string& command);

  // Reads what QEMU sent before it closed the connection (a SHUTDOWN event as it exits).
  void read_remaining_events();

  // Events seen so far, oldest first ({"event": "RESET", "data": …, "timestamp": …}).
  const std::vector<nlohmann::json>& events() const { return events_; }
  bool saw_event(std::string_view name) const;

 private:
  explicit QmpClient(UniqueFd fd) : fd_(std::move(fd)) {}
  Status send(const nlohmann::json& message);
  Expected<nlohmann::json> read_message(std::chrono::milliseconds timeout);

  UniqueFd fd_;
  std::string buffer_;
  std::vector<nlohmann::json> events_;
};

}  // namespace cairn::qemu
