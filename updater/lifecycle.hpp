// An update's life on a host, as one state machine saved in state.json (state.hpp):
//
//   idle, committed, rolled-back ──→ installing ──→ installed ──→ booting ──→ observing
//                      ↑                 │            │  ↑          │            │    │
//                      └──── (stopped) ──┘            │  └(another  │            │    ↓
//                                                     │    install) ↓            │ committed
//                                                     └──────────→ failed ←──────┘
//                                                                    │
//                                                                    ↓
//                                                               rolled-back
//
// Every state is saved, atomically, before its action runs: whatever interrupts the process
// (a kill, a power cut), the next run knows what was under way and recover() finishes or undoes
// it. Commit, fail, mark-bad and rollback are each written once, here, together with the
// update history's record of them. Every operation holds the host's update lock (install.lock):
// one install, rollback or verdict at a time, across the CLI and the daemon.
#pragma once

#include <functional>
#include <string>

#include "common/fs.hpp"
#include "updater/esp.hpp"
#include "updater/history.hpp"
#include "updater/rollback.hpp"
#include "updater/slot_device.hpp"
#include "updater/state.hpp"

namespace cairn::updater {

// The transition table.
bool transition_allowed(Phase from, Phase to);

// Called with each saved state's name, after the save and before its action, and with each
// install step's name when it is done: the seam of the kill-at-every-transition test
// (CAIRN_TEST_KILL_AT, see main.cpp).
using TransitionHook = std::function<void(std::string_view point)>;

// What an administrator or the health window decided, for the history.
enum class Verdict { health_window, administrator };

// The reasons the history gives for an administrator's verdicts (the fleet tells them apart
// from failures: fleet_report.hpp).
inline constexpr std::string_view kAdministratorMarkBadReason = "marked bad by an administrator";
inline constexpr std::string_view kAdministratorRollbackReason = "rolled back by an administrator";

class Lifecycle {
 public:
  // Takes the update lock (Errc::busy when another operation holds it) and loads the state.
  static Expected<Lifecycle> open(const std::filesystem::path& state_dir, TransitionHook hook = {});

  const HostState& state() const { return state_; }
  // The hook's name for a point that is not a saved state (an install step).
  void reached(std::string_view point) const;

  // Undoes an install that was interrupted (installing, or installed without its entry): the
  // target slot named empty and without entries, back to idle. Returns whether it did.
  Expected<bool> recover(SlotDevice& device, Esp& esp, const SlotLayout& layout, char booted);

  // → installing: the target slot and version, saved before a byte of the slot changes.
  Status begin_install(PendingSlot update, std::string from_version, std::string source);
  // A bundle refused before anything changed (signature, class, floor, room): only a history
  // record, the state stays as it is.
  void note_refused(std::string version, std::string from_version, std::string source,
                    const Error& why);
  // installing → installed (after the slot checked out, before its entry is written).
  Status install_done(std::vector<StepTiming> steps);
  // installing → idle: the install stopped; the caller made the target slot empty.
  Status install_stopped(const Error& why, std::vector<StepTiming> steps);
  // installed → booting: the host reboots into the update.
  Status start_booting();
  // → observing: the update is running; its health window starts.
  Status start_observing(std::chrono::seconds window);
  // The install's step timings, kept with the update's record.
  void note_steps(std::vector<StepTiming> steps);
  // The health window's last round and warnings, kept with the update's record.
  void note_checks(std::vector<CheckResult> checks, std::vector<CheckResult> warnings);
  // Raises the floor (the running image's own security version, recorded at boot).
  Status raise_floor(std::uint64_t floor);
  // → committed: its security version becomes the floor, nothing is pending.
  Status commit(Verdict by, std::string detail);
  // → failed: the update's entries get no tries left (running it) or go (not running it), so the
  // next boot is the other slot's; an update not running is rolled back at once.
  Status mark_failed(Verdict by, std::string reason, Esp& esp, char booted);
  // → rolled-back: this boot runs the other slot after the update failed (or never came up).
  Status record_rollback(Esp& esp, const std::string& running_version, char booted);
  // → rolled-back by request: the plan's renames, so that the next boot starts the other slot
  // (an update on trial is abandoned).
  Status rollback(const RollbackPlan& plan, Esp& esp);

 private:
  Lifecycle(std::filesystem::path state_dir, UniqueFd lock, HostState state, TransitionHook hook)
      : state_dir_(std::move(state_dir)),
        lock_(std::move(lock)),
        state_(std::move(state)),
        hook_(std::move(hook)) {}
  // Errc::invalid_input unless the table has this transition.
  Status check_transition(Phase to) const;
  // Checks the table, saves, then tells the hook.
  Status enter(Phase to);
  // Adds to the update's history record (best effort: the history is a report, state.json the
  // truth). No `outcome` keeps the record's.
  void note(std::optional<Outcome> outcome, std::string reason, std::string event,
            std::function<void(UpdateRecord&)> more = {});

  std::filesystem::path state_dir_;
  UniqueFd lock_;
  HostState state_;
  TransitionHook hook_;
  std::string from_version_;
};

// Removes every boot entry of `version` (parsed exactly); returns what it removed.
Expected<std::vector<std::string>> remove_entries_of(Esp& esp, std::string_view version);
// Gives every entry of `version` no tries left (+0-0): systemd-boot sorts it after every other
// entry, so it is never the default again, yet stays in the menu. Returns the spent names.
Expected<std::vector<std::string>> spend_entries_of(Esp& esp, std::string_view version);

}  // namespace cairn::updater
