// The reboot gate (reboot_gate.hpp) as a host runs it: the lock [fleet] names, opened only when
// a reboot asks for it (a quiet poll sends nothing for it), and the evacuation by
// cairn-evacuate. Used by the poll before the reboot into an update, by the health assessment
// before the rollback reboot, and at steady state after each boot's assessment.
#pragma once

#include <memory>
#include <optional>

#include "updater/boot_assessment.hpp"
#include "updater/host.hpp"
#include "updater/reboot_gate.hpp"
#include "updater/service_manager.hpp"

namespace cairn::updater {

class HostRebootGate {
 public:
  HostRebootGate(const HostOptions& host, const FleetConfig& config);
  ~HostRebootGate();

  Expected<GateResult> pass(const std::string& version, RebootKind kind);
  // After a boot's assessment: steady once healthy or committed (the place given back, the
  // post-commit hooks run after a commit); nothing otherwise.
  Status after_assessment(const BootAssessment& assessment);

 private:
  Expected<fleet::LockRequest> request(const std::string& version);
  Expected<fleet::RebootLock*> lock();

  const HostOptions& host_;
  const FleetConfig& config_;
  SystemProcessRunner runner_;
  std::optional<fleet::EtcdClient> etcd_;
  std::unique_ptr<fleet::RebootLock> lock_;
};

// A ServiceManager whose reboot passes the gate first (the rollback reboot of a failed window):
// a closed gate is Errc::busy with the gate's message, and nothing reboots.
class GatedServiceManager final : public ServiceManager {
 public:
  GatedServiceManager(ServiceManager& inner, HostRebootGate& gate, std::string version)
      : inner_(inner), gate_(gate), version_(std::move(version)) {}
  Expected<std::vector<std::string>> failed_units() override { return inner_.failed_units(); }
  Expected<std::string> active_state(const std::string& unit) override {
    return inner_.active_state(unit);
  }
  Status reboot() override;

 private:
  ServiceManager& inner_;
  HostRebootGate& gate_;
  std::string version_;  // the version the reboot goes back to
};

}  // namespace cairn::updater
