// A deliberate switch back to the other slot (`cairn-update rollback`, D-Bus Rollback()): the
// next boot starts the version in the other slot, which must still have its boot entry. Only
// boot entry names change, in a crash-safe order:
//   1. the other slot's entry gets fresh tries (cairn_<old>+3-0.efi): boot assessment applies
//      to the rollback too, and while the running entry is still fine nothing changes yet;
//   2. the running slot's entry becomes cairn_<new>+0-0.efi: no tries left, so systemd-boot
//      sorts it last and boots the other slot by default (it stays in the menu).
// A crash between the two leaves the running version the default.
#pragma once

#include <string>
#include <vector>

#include "updater/esp.hpp"
#include "updater/slots.hpp"
#include "updater/state.hpp"

namespace cairn::updater {

struct EntryRename {
  std::string from;
  std::string to;
};

struct RollbackPlan {
  char from_slot = 'A';
  std::string from_version;
  char to_slot = 'B';
  std::string to_version;
  std::vector<EntryRename> renames;  // in this order
};

// Decides what to rename, or says why there is nothing to roll back to (the lifecycle's
// rollback() applies it).
Expected<RollbackPlan> plan_rollback(const SlotLayout& layout, char booted, const HostState& state,
                                     const std::vector<std::string>& entries);

}  // namespace cairn::updater
