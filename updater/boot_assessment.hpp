// What cairn-health.service decides on every boot (before boot-complete.target):
//   - an update that was installed in an earlier boot and is still pending on the *other* slot
//     never came up (its tries were used up, or its own window marked it bad): this boot is the
//     rollback — recorded, its entries kept out of the way (+0), nothing pending any more;
//   - the pending update is the running slot: the observation window runs; healthy → committed
//     (its security version becomes the floor); a required check failed → its entry gets no
//     tries left (+0, sorted last), the reason is recorded, and the host reboots into the
//     previous version, which then records the rollback (first case);
//   - nothing pending: one round of checks for this boot alone.
#pragma once

#include <functional>

#include "updater/esp.hpp"
#include "updater/health_window.hpp"
#include "updater/history.hpp"
#include "updater/lifecycle.hpp"
#include "updater/slots.hpp"
#include "updater/state.hpp"

namespace cairn::updater {

struct BootContext {
  std::filesystem::path state_dir;
  SlotLayout layout;
  char booted = 'A';
  std::string boot_id;
  TransitionHook on_transition = {};
};

struct BootSeams {
  Esp& esp;
  ServiceManager& manager;
  Clock& clock;
  std::vector<std::unique_ptr<HealthCheck>>& checks;
  std::function<void(unsigned, const std::vector<CheckResult>&)> on_round = {};
};

enum class BootVerdict {
  healthy,    // nothing was under observation; this boot's checks passed
  unhealthy,  // nothing to roll back to automatically; this boot's checks failed
  committed,  // the pending update passed its window
  failed,     // the pending update failed its window; a reboot into the old version is queued
};

struct BootAssessment {
  BootVerdict verdict = BootVerdict::healthy;
  std::string version;  // the running one
  char slot = 'A';
  HealthReport report;
  // Set when this boot found that an update had failed and recorded the rollback.
  std::optional<UpdateRecord> rolled_back;
};

std::string_view verdict_name(BootVerdict verdict);

Expected<BootAssessment> assess_boot(const BootContext& context, const HealthConfig& config,
                                     BootSeams seams);

}  // namespace cairn::updater
