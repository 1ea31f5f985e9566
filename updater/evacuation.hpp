// Moving the guests off a host before it reboots, so that an update (or the rollback of one)
// stops no VM. Every running libvirt domain is live-migrated to the first peer of
// [fleet] migration_peers that takes it — persistent there, undefined here — unless the host's
// policy shuts it down instead (shutdown_domains). One domain that can be neither moved nor
// shut down stops the evacuation: the reboot does not happen, and the domains already moved
// stay where they went.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace cairn::updater {

// The seam: libvirt on a host, a fake in unit tests.
class Hypervisor {
 public:
  virtual ~Hypervisor() = default;
  virtual Expected<std::vector<std::string>> running_domains() = 0;
  // Live migration to `peer` (a libvirt URI). An error leaves the domain running here: a
  // migration that failed halfway is aborted, and the source keeps the guest.
  virtual Status migrate(const std::string& domain, const std::string& peer,
                         std::chrono::seconds timeout) = 0;
  // A clean shutdown (ACPI), waited for; destroyed when it does not stop within `timeout`.
  virtual Status shut_down(const std::string& domain, std::chrono::seconds timeout) = 0;
};

struct EvacuationPolicy {
  std::vector<std::string> peers;
  std::chrono::seconds timeout{600};          // per domain
  std::vector<std::string> shutdown_domains;  // "*": every domain
};

struct EvacuationReport {
  std::vector<std::string> moved;      // "web-1 → qemu+ssh://kvm-2/system"
  std::vector<std::string> shut_down;  // by policy
  std::string summary() const;
};

// Errc::busy naming the domain that stayed, and each peer's reason, when one cannot leave.
Expected<EvacuationReport> evacuate(Hypervisor& hypervisor, const EvacuationPolicy& policy);

// libvirt's `uri` (qemu:///system on a host), opened at the first call.
std::unique_ptr<Hypervisor> libvirt_hypervisor(std::string uri = "qemu:///system");

}  // namespace cairn::updater
