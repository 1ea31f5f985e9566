// What stands between a decision to reboot (into an installed update, or back out of one whose
// window failed) and the reboot itself, in order:
//   1. the fleet lock (fleet/reboot_lock.hpp): a place in the group's semaphore, or no reboot;
//      a lock that cannot be asked is no reboot either (fail closed), unless lock = "none";
//   2. the site's own pre-reboot hooks (<hooks_dir>/pre-reboot.d/, in file-name order), which
//      plug in its orchestrator (OpenStack, Proxmox…);
//   3. the evacuation of every running guest by live migration (cairn-evacuate).
// When 2 or 3 fails the place is given back, nothing reboots, and the next poll tries again;
// the reason is the caller's message. After the commit (steady state) the place is given back
// and the post-commit hooks run.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "common/process.hpp"
#include "fleet/reboot_lock.hpp"
#include "updater/update_config.hpp"

namespace cairn::updater {

enum class RebootKind { update, rollback };

struct RebootGateSeams {
  fleet::RebootLock* lock = nullptr;  // null: lock = "none"
  ProcessRunner& runner;              // the hooks
  // Moves the guests away; the summary of what moved. Null: nothing to evacuate here.
  std::function<Expected<std::string>()> evacuate;
};

struct GateResult {
  bool open = false;
  std::string message;  // what happened: the place taken and the guests moved, or why not
};

// `request`: this host, its group and the version it reboots into.
Expected<GateResult> pass_reboot_gate(const FleetConfig& config, const fleet::LockRequest& request,
                                      RebootKind kind, RebootGateSeams& seams);

// Steady state: the place given back (an error when the lock cannot be reached: the place then
// frees after its TTL), then, when `committed` is set, the post-commit hooks.
Status reach_steady_state(const FleetConfig& config, const fleet::LockRequest& request,
                          bool committed, RebootGateSeams& seams);

// The evacuation by cairn-evacuate at `tool` with the policy of `config`; a host without the
// tool or without libvirt has nothing to evacuate.
std::function<Expected<std::string>()> evacuate_with_tool(const FleetConfig& config,
                                                          ProcessRunner& runner,
                                                          std::filesystem::path tool);

inline constexpr std::string_view kEvacuateTool = "/usr/lib/cairn/cairn-evacuate";

}  // namespace cairn::updater
