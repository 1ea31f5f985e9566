#include "updater/host_gate.hpp"

#include "updater/fleet_agent.hpp"

namespace cairn::updater {

HostRebootGate::HostRebootGate(const HostOptions& host, const FleetConfig& config)
    : host_(host), config_(config) {}
HostRebootGate::~HostRebootGate() = default;

Expected<fleet::LockRequest> HostRebootGate::request(const std::string& version) {
  return fleet::LockRequest{
      .id = CAIRN_TRY(machine_id(host_)), .group = config_.group, .version = version};
}

Expected<fleet::RebootLock*> HostRebootGate::lock() {
  if (lock_) return lock_.get();
  switch (config_.effective_lock()) {
    case LockKind::none:
      return nullptr;
    case LockKind::etcd:
      etcd_.emplace(
          CAIRN_TRY(fleet::EtcdClient::open(config_.store, {.ca_file = config_.ca_file})));
      lock_ = fleet::etcd_reboot_lock(*etcd_, {.fleet = config_.name, .ttl = config_.lock_ttl});
      break;
    case LockKind::fleetlock:
      lock_ = CAIRN_TRY(fleet::fleetlock_reboot_lock(
          {.base_url = config_.fleetlock_url, .ca_file = config_.ca_file}));
      break;
  }
  return lock_.get();
}

Expected<GateResult> HostRebootGate::pass(const std::string& version, RebootKind kind) {
  auto me = CAIRN_TRY(request(version));
  RebootGateSeams seams{.lock = CAIRN_TRY(lock()), .runner = runner_};
  // A disk-image file has no guests: its "host" is the machine running the tests.
  if (!is_disk_image(host_)) {
    seams.evacuate = evacuate_with_tool(config_, runner_, std::string(kEvacuateTool));
  }
  return pass_reboot_gate(config_, me, kind, seams);
}

Status HostRebootGate::after_assessment(const BootAssessment& assessment) {
  bool steady =
      assessment.verdict == BootVerdict::healthy || assessment.verdict == BootVerdict::committed;
  if (!steady || !config_.enabled()) return {};
  auto me = CAIRN_TRY(request(assessment.version));
  RebootGateSeams seams{.lock = CAIRN_TRY(lock()), .runner = runner_};
  return reach_steady_state(config_, me, assessment.verdict == BootVerdict::committed, seams);
}

Status GatedServiceManager::reboot() {
  auto gate = CAIRN_TRY(gate_.pass(version_, RebootKind::rollback));
  if (!gate.open) return fail(Errc::busy, gate.message);
  return inner_.reboot();
}

}  // namespace cairn::updater
