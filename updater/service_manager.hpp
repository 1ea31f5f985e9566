// The service manager as the health checks and the boot assessment see it: which units failed,
// whether one is active, and a clean reboot. The real one talks to systemd over the system bus;
// unit tests pass a fake.
#pragma once

#include <string>
#include <vector>

#include "common/error.hpp"

namespace cairn::updater {

class ServiceManager {
 public:
  virtual ~ServiceManager() = default;
  // Units in the "failed" state.
  virtual Expected<std::vector<std::string>> failed_units() = 0;
  // ActiveState of the unit ("active", "failed", …), or "" when no such unit is installed.
  virtual Expected<std::string> active_state(const std::string& unit) = 0;
  // Queues reboot.target (an orderly shutdown, as `systemctl reboot`).
  virtual Status reboot() = 0;
};

// org.freedesktop.systemd1 on the system bus.
class SystemdManager final : public ServiceManager {
 public:
  Expected<std::vector<std::string>> failed_units() override;
  Expected<std::string> active_state(const std::string& unit) override;
  Status reboot() override;
};

// A disk-image file's: it runs nothing, so no unit has failed or is active, and its "reboot" is
// the next command naming its other slot (--booted). Never the machine cairn-update runs on.
class DiskImageManager final : public ServiceManager {
 public:
  Expected<std::vector<std::string>> failed_units() override { return std::vector<std::string>(); }
  Expected<std::string> active_state(const std::string&) override { return std::string(); }
  Status reboot() override { return {}; }
};

}  // namespace cairn::updater
