// The checks of the health observation window. Each runs once per round and answers passed or
// failed with its evidence; a check that cannot even ask (bus gone) has failed too, since an
// unobservable host is not a healthy one. Required checks roll an update back; wanted ones only
// warn.
#pragma once

#include <array>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/process.hpp"
#include "updater/service_manager.hpp"
#include "updater/update_config.hpp"

namespace cairn::updater {

struct CheckResult {
  std::string name;
  bool required = true;
  bool passed = false;
  std::string detail;  // evidence: what failed, or a short "ok" summary
};

class HealthCheck {
 public:
  virtual ~HealthCheck() = default;
  virtual const std::string& name() const = 0;
  virtual bool required() const = 0;
  virtual CheckResult run() = 0;
};

// Units whose failure the window leaves to a check of their own, with its own policy and a
// reason worth reading: cairn-attest.service fails when the verifier denies this boot (the
// attestation check says why, "attestation denied: image-known: …") or cannot be reached (which
// says nothing about the image: the attestation check passes it with a warning).
inline constexpr std::array<std::string_view, 1> kJudgedByOwnCheck = {"cairn-attest.service"};

// No unit in the "failed" state (units listed in `ignored` excepted).
std::unique_ptr<HealthCheck> failed_units_check(ServiceManager& manager,
                                                std::vector<std::string> ignored = {});
// `unit` is active; when it is not installed at all the check passes ("not installed").
std::unique_ptr<HealthCheck> unit_active_check(ServiceManager& manager, std::string unit);
// Every libvirt domain marked autostart (a link in `autostart_dir`) is running, asked with
// `virsh list --state-running`. Without libvirt (no such directory) it passes.
std::unique_ptr<HealthCheck> autostart_domains_check(ProcessRunner& runner,
                                                     std::filesystem::path autostart_dir);
// Runs an executable (killed after `timeout`): exit 0 passes; its last output line is the
// evidence.
std::unique_ptr<HealthCheck> executable_check(ProcessRunner& runner, std::filesystem::path file,
                                              bool required, std::chrono::seconds timeout);

// An executable run once, killed after `timeout`: passed on exit 0; the detail is its last
// output line, or how it failed ("exit 3: no room on kvm-2", "timed out after 60 s").
struct ExecutableOutcome {
  bool passed = false;
  std::string detail;
};
ExecutableOutcome run_executable(ProcessRunner& runner, const std::filesystem::path& file,
                                 std::chrono::seconds timeout,
                                 std::vector<std::pair<std::string, std::string>> env = {});
// The executables (regular files with x) of `dir` in file-name order; none when it is absent.
std::vector<std::filesystem::path> executables_in(const std::filesystem::path& dir);

// The configured set: failed units, libvirtd, autostart domains, then required.d/ and wanted.d/
// executables in file-name order.
std::vector<std::unique_ptr<HealthCheck>> configured_checks(const HealthConfig& config,
                                                            ServiceManager& manager,
                                                            ProcessRunner& runner);

}  // namespace cairn::updater
