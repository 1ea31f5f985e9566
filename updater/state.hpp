// What a host remembers about updates, in /var/lib/cairn/state.json (written atomically): the
// anti-rollback floor, where the update lifecycle stands (lifecycle.hpp) and the update it is
// about.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "common/error.hpp"

namespace cairn::updater {

// The update lifecycle's states (the transitions are lifecycle.hpp's table).
enum class Phase {
  idle,         // nothing under way (a fresh host)
  installing,   // the target slot is being written: not bootable
  installed,    // the target slot and its entry are complete, waiting for a reboot
  booting,      // a reboot into it was asked for
  observing,    // it is running; its health window decides
  committed,    // it passed: its security version is the floor
  failed,       // it failed; the host goes (or went) back to the other slot
  rolled_back,  // the host runs the previous version again
};

std::string_view phase_name(Phase phase);
std::optional<Phase> parse_phase(std::string_view name);
// True while an update is under way (the phases that carry a PendingSlot).
bool phase_has_update(Phase phase);

// The update the lifecycle is about, from `installing` to `failed`.
struct PendingSlot {
  char slot = 'B';
  std::string version;
  std::uint64_t security_version = 0;
  // The boot during which it was installed: a later boot of the other slot means it failed.
  std::string install_boot_id;
  // Set when its own health window (or an administrator) marked it bad, before the host goes
  // back to the other slot.
  std::string failure;
};

struct HostState {
  // The highest security version installed: bundles below it are refused.
  std::uint64_t security_floor = 0;
  std::optional<PendingSlot> pending;
  Phase phase = Phase::idle;
};

// This boot's id (/proc/sys/kernel/random/boot_id), "" when the kernel does not say.
std::string current_boot_id();

// A missing file is a fresh host (floor 0, idle); a malformed one is an error. A file written
// before phases existed gets the phase its contents imply.
Expected<HostState> load_state(const std::filesystem::path& state_dir);
Status save_state(const std::filesystem::path& state_dir, const HostState& state);

}  // namespace cairn::updater
