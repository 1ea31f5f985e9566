#include "updater/lifecycle.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include <algorithm>
#include <array>

namespace cairn::updater {

namespace fs = std::filesystem;

namespace {

using enum Phase;

constexpr std::array<std::pair<Phase, Phase>, 23> kTransitions{{
    // An install starts from rest, or replaces an install that was never booted.
    {idle, installing},
    {committed, installing},
    {rolled_back, installing},
    {installed, installing},
    {installing, installed},
    {installing, idle},  // stopped: failed, cancelled or interrupted; the target is empty
    {installed, booting},
    // The update runs: its window (again, after a power cut during the window).
    {installed, observing},
    {booting, observing},
    {observing, observing},
    // Verdicts: the window's, or an administrator's (mark-good, mark-bad).
    {installed, committed},
    {booting, committed},
    {observing, committed},
    {installed, failed},
    {booting, failed},
    {observing, failed},
    {failed, rolled_back},
    // A rollback by request (`cairn-update rollback`), an update on trial included.
    {idle, rolled_back},
    {committed, rolled_back},
    {rolled_back, rolled_back},
    {booting, rolled_back},
    {observing, rolled_back},
    // An install whose entry never got written (recover()).
    {installed, idle},
}};

std::string slot_text(char slot) { return std::string("slot ") + slot; }

}  // namespace

bool transition_allowed(Phase from, Phase to) {
  return std::ranges::find(kTransitions, std::pair{from, to}) != kTransitions.end();
}

Expected<std::vector<std::string>> remove_entries_of(Esp& esp, std::string_view version) {
  std::vector<std::string> removed;
  for (const auto& entry : CAIRN_TRY(esp.list_entries())) {
    if (!entry_is_version(entry, version)) continue;
    CAIRN_CHECK(esp.remove_entry(entry));
    removed.push_back(entry);
  }
  return removed;
}

Expected<std::vector<std::string>> spend_entries_of(Esp& esp, std::string_view version) {
  std::vector<std::string> spent;
  for (const auto& entry : CAIRN_TRY(esp.list_entries())) {
    auto parsed = parse_boot_entry_name(entry);
    if (!parsed || parsed->version != version) continue;
    if (!parsed->spent()) CAIRN_CHECK(esp.rename_entry(entry, spent_entry_name(version)));
    spent.push_back(parsed->spent() ? entry : spent_entry_name(version));
  }
  return spent;
}

Expected<Lifecycle> Lifecycle::open(const fs::path& state_dir, TransitionHook hook) {
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  auto lock = CAIRN_TRY(open_file(state_dir / "install.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return cairn::fail(Errc::busy, "another update operation is running (" +
                                         (state_dir / "install.lock").string() + " is held)");
    }
    return fail_errno("locking " + (state_dir / "install.lock").string(), errno);
  }
  auto state = CAIRN_TRY(load_state(state_dir));
  return Lifecycle(state_dir, std::move(lock), std::move(state), std::move(hook));
}

void Lifecycle::reached(std::string_view point) const {
  if (hook_) hook_(point);
}

Status Lifecycle::check_transition(Phase to) const {
  if (transition_allowed(state_.phase, to)) return {};
  return cairn::fail(Errc::invalid_input, "the update lifecycle cannot go from " +
                                              std::string(phase_name(state_.phase)) + " to " +
                                              std::string(phase_name(to)));
}

Status Lifecycle::enter(Phase to) {
  CAIRN_CHECK(check_transition(to));
  HostState next = state_;
  next.phase = to;
  if (!phase_has_update(to)) next.pending.reset();
  CAIRN_CHECK(save_state(state_dir_, next));
  state_ = std::move(next);
  reached(phase_name(to));
  return {};
}

void Lifecycle::note(std::optional<Outcome> outcome, std::string reason, std::string event,
                     std::function<void(UpdateRecord&)> more) {
  if (!state_.pending) return;
  auto history = History::load(state_dir_);
  if (!history) return;
  const PendingSlot& update = *state_.pending;
  UpdateRecord* record = history->latest(update.version, update.slot);
  if (!record) {
    // Installed by a cairn-update that kept no history: start one now.
    record = &history->add({.version = update.version,
                            .from_version = from_version_,
                            .slot = update.slot,
                            .security_version = update.security_version,
                            .outcome = Outcome::installed});
  }
  if (outcome) record->outcome = *outcome;
  if (!reason.empty() && record->reason.empty()) record->reason = std::move(reason);
  if (more) more(*record);
  if (!event.empty()) record->add_event(std::move(event));
  (void)history->save(state_dir_);
}

Expected<bool> Lifecycle::recover(SlotDevice& device, Esp& esp, const SlotLayout& layout,
                                  char booted) {
  if (!state_.pending) return false;
  const PendingSlot& update = *state_.pending;
  bool interrupted = state_.phase == Phase::installing;
  if (state_.phase == Phase::installed && update.slot != booted) {
    // The entry is written after `installed` is saved: without it, the install did not finish.
    auto entries = CAIRN_TRY(esp.list_entries());
    interrupted = std::ranges::none_of(
        entries, [&](const std::string& entry) { return entry_is_version(entry, update.version); });
  }
  if (!interrupted || update.slot == booted) return false;
  // The install may have stopped anywhere in its retire step: finish it. The entries of the
  // version coming in and of the one the target held go (the slot is named empty, so they would
  // boot nothing); never the running version's, whatever the state file says.
  std::string running = layout.slot(booted).version();
  for (const std::string& version : {update.version, layout.slot(update.slot).version()}) {
    if (!version.empty() && version != running) CAIRN_TRY(remove_entries_of(esp, version));
  }
  CAIRN_CHECK(device.set_identity(layout.slot(update.slot), empty_slot_identity(update.slot)));
  CAIRN_CHECK(install_stopped(Error(Errc::io, "interrupted (the process ended mid-install)"), {}));
  return true;
}

Status Lifecycle::begin_install(PendingSlot update, std::string from_version, std::string source) {
  if (state_.phase == Phase::observing || state_.phase == Phase::booting ||
      state_.phase == Phase::failed) {
    return cairn::fail(Errc::invalid_input,
                       "update " + state_.pending->version + " in " +
                           slot_text(state_.pending->slot) + " is " +
                           std::string(phase_name(state_.phase)) +
                           ": wait for its verdict, or mark-good / mark-bad / rollback it first");
  }
  if (!transition_allowed(state_.phase, Phase::installing)) {
    return cairn::fail(Errc::invalid_input,
                       "cannot install while " + std::string(phase_name(state_.phase)));
  }
  from_version_ = std::move(from_version);
  HostState next = state_;
  next.phase = Phase::installing;
  next.pending = std::move(update);
  CAIRN_CHECK(save_state(state_dir_, next));
  state_ = std::move(next);
  auto history = History::load(state_dir_);
  if (history) {
    history->add({.version = state_.pending->version,
                  .from_version = from_version_,
                  .slot = state_.pending->slot,
                  .source = std::move(source),
                  .security_version = state_.pending->security_version,
                  .outcome = Outcome::installing});
    (void)history->save(state_dir_);
  }
  reached(phase_name(Phase::installing));
  return {};
}

void Lifecycle::note_refused(std::string version, std::string from_version, std::string source,
                             const Error& why) {
  auto history = History::load(state_dir_);
  if (!history) return;
  UpdateRecord& record = history->add({.version = std::move(version),
                                       .from_version = std::move(from_version),
                                       .source = std::move(source),
                                       .outcome = Outcome::install_failed,
                                       .reason = why.describe()});
  record.add_event("refused before any change: " + record.reason);
  (void)history->save(state_dir_);
}

Status Lifecycle::install_done(std::vector<StepTiming> steps) {
  CAIRN_CHECK(enter(Phase::installed));
  note(Outcome::installed, "",
       "installed into " + slot_text(state_.pending->slot) + " as " +
           new_entry_name(state_.pending->version),
       [&](UpdateRecord& record) { record.steps = std::move(steps); });
  return {};
}

Status Lifecycle::install_stopped(const Error& why, std::vector<StepTiming> steps) {
  std::string reason = why.describe();
  Outcome outcome = why.code() == Errc::cancelled ? Outcome::cancelled : Outcome::install_failed;
  note(outcome, reason, "install stopped: " + reason,
       [&](UpdateRecord& record) { record.steps = std::move(steps); });
  return enter(Phase::idle);
}

Status Lifecycle::start_booting() {
  CAIRN_CHECK(enter(Phase::booting));
  note(std::nullopt, "", "rebooting into " + slot_text(state_.pending->slot));
  return {};
}

Status Lifecycle::start_observing(std::chrono::seconds window) {
  CAIRN_CHECK(enter(Phase::observing));
  note(Outcome::observing, "",
       "booted from " + slot_text(state_.pending->slot) + "; observing for " +
           std::to_string(window.count()) + " s");
  return {};
}

void Lifecycle::note_steps(std::vector<StepTiming> steps) {
  note(std::nullopt, "", "", [&](UpdateRecord& record) { record.steps = std::move(steps); });
}

void Lifecycle::note_checks(std::vector<CheckResult> checks, std::vector<CheckResult> warnings) {
  note(std::nullopt, "", "", [&](UpdateRecord& record) {
    record.checks = std::move(checks);
    record.warnings = std::move(warnings);
  });
}

Status Lifecycle::raise_floor(std::uint64_t floor) {
  if (state_.security_floor >= floor) return {};
  HostState next = state_;
  next.security_floor = floor;
  CAIRN_CHECK(save_state(state_dir_, next));
  state_ = std::move(next);
  return {};
}

Status Lifecycle::commit(Verdict by, std::string detail) {
  if (!state_.pending) return cairn::fail(Errc::invalid_input, "no update is pending");
  std::uint64_t security_version = state_.pending->security_version;
  std::string event = by == Verdict::administrator
                          ? "marked good by an administrator: committed"
                          : "observation window passed (" + detail + "): committed";
  // Checked before anything changes: the floor is saved with the transition, the history after.
  CAIRN_CHECK(check_transition(Phase::committed));
  // The record is found through the update, which committing clears: noted just before.
  note(Outcome::committed, "", event);
  state_.security_floor = std::max(state_.security_floor, security_version);
  return enter(Phase::committed);
}

Status Lifecycle::mark_failed(Verdict by, std::string reason, Esp& esp, char booted) {
  if (!state_.pending) return cairn::fail(Errc::invalid_input, "no update is pending");
  CAIRN_CHECK(check_transition(Phase::failed));
  PendingSlot& update = *state_.pending;
  if (by == Verdict::administrator) reason = kAdministratorMarkBadReason;
  // The reason first, so that a crash before the entries change still knows why.
  update.failure = reason;
  CAIRN_CHECK(enter(Phase::failed));
  bool running = update.slot == booted;
  note(Outcome::failed, reason,
       running ? reason + "; its entry has no tries left, the next boot is the other slot's"
               : reason + ": boot entry removed");
  if (running) {
    CAIRN_TRY(spend_entries_of(esp, update.version));
    return {};
  }
  CAIRN_TRY(remove_entries_of(esp, update.version));
  // Never booted: the host already runs the previous version.
  return enter(Phase::rolled_back);
}

Status Lifecycle::record_rollback(Esp& esp, const std::string& running_version, char booted) {
  if (!state_.pending) return cairn::fail(Errc::invalid_input, "no update is pending");
  PendingSlot& update = *state_.pending;
  auto entries = CAIRN_TRY(spend_entries_of(esp, update.version));
  std::string reason = update.failure;
  if (reason.empty()) {
    reason = "did not complete a boot: its boot tries were used up";
    if (!entries.empty()) reason += " (" + entries.front() + ")";
  }
  if (state_.phase != Phase::failed) {
    update.failure = reason;
    CAIRN_CHECK(enter(Phase::failed));
  }
  note(Outcome::rolled_back, reason,
       "back on " + running_version + " in " + slot_text(booted) + ": " + reason);
  return enter(Phase::rolled_back);
}

Status Lifecycle::rollback(const RollbackPlan& plan, Esp& esp) {
  std::string event = "rollback requested: the next boot starts " + plan.to_version + " from " +
                      slot_text(plan.to_slot);
  CAIRN_CHECK(check_transition(Phase::rolled_back));
  if (state_.pending) note(Outcome::rolled_back, std::string(kAdministratorRollbackReason), event);
  CAIRN_CHECK(enter(Phase::rolled_back));
  for (const auto& rename : plan.renames) CAIRN_CHECK(esp.rename_entry(rename.from, rename.to));
  return {};
}

}  // namespace cairn::updater
