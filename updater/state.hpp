// What a host remembers about updates, in /var/lib/cairn/state.json (written atomically): the
// anti-rollback floor and the slot waiting for its first good boot.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "common/error.hpp"

namespace cairn::updater {

struct PendingSlot {
  char slot = 'B';
  std::string version;
  std::uint64_t security_version = 0;
  // The boot during which it was installed: a later boot of the other slot means it failed.
  std::string install_boot_id;
  // Set when its own health window marked it bad (the reason), before rebooting away from it.
  std::string failure;
};

struct HostState {
  // The highest security version installed: bundles below it are refused.
  std::uint64_t security_floor = 0;
  std::optional<PendingSlot> pending;
};

// This boot's id (/proc/sys/kernel/random/boot_id), "" when the kernel does not say.
std::string current_boot_id();

// A missing file is a fresh host (floor 0, nothing pending); a malformed one is an error.
Expected<HostState> load_state(const std::filesystem::path& state_dir);
Status save_state(const std::filesystem::path& state_dir, const HostState& state);

}  // namespace cairn::updater
