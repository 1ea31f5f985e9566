#include "updater/boot_assessment.hpp"

#include <algorithm>
#include <cstdio>

namespace cairn::updater {

namespace {

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f s", seconds);
  return text;
}

// Gives every entry of `version` no tries left: systemd-boot sorts it after every other entry,
// so it is never the default again, yet stays in the menu (a host is never left with nothing).
Expected<std::vector<std::string>> spend_entries(Esp& esp, const std::string& version) {
  std::vector<std::string> spent;
  for (const auto& entry : CAIRN_TRY(esp.list_entries())) {
    auto parsed = parse_boot_entry_name(entry);
    if (!parsed || parsed->version != version) continue;
    if (parsed->spent()) {
      spent.push_back(entry);
      continue;
    }
    CAIRN_CHECK(esp.rename_entry(entry, spent_entry_name(version)));
    spent.push_back(spent_entry_name(version));
  }
  return spent;
}

UpdateRecord& record_for(History& history, const PendingSlot& pending, const SlotLayout& layout) {
  if (auto* record = history.latest(pending.version, pending.slot)) return *record;
  // Installed by a cairn-update that kept no history: start one now.
  return history.add({.version = pending.version,
                      .from_version = layout.other(pending.slot).version(),
                      .slot = pending.slot,
                      .security_version = pending.security_version,
                      .outcome = std::string(kInstalled)});
}

// The pending update on the other slot never came up: this boot is its rollback.
Status record_rollback(const BootContext& context, HostState& state, History& history, Esp& esp,
                       BootAssessment& result) {
  PendingSlot pending = *state.pending;
  auto entries = CAIRN_TRY(spend_entries(esp, pending.version));
  std::string reason = pending.failure;
  if (reason.empty()) {
    reason = "did not complete a boot: its boot tries were used up";
    if (!entries.empty()) reason += " (" + entries.front() + ")";
  }
  UpdateRecord& record = record_for(history, pending, context.layout);
  record.outcome = std::string(kRolledBack);
  if (record.reason.empty()) record.reason = reason;
  record.add_event("back on " + result.version + " in slot " + std::string(1, context.booted) +
                   ": " + reason);
  result.rolled_back = record;
  state.pending.reset();
  CAIRN_CHECK(save_state(context.state_dir, state));
  return history.save(context.state_dir);
}

}  // namespace

std::string_view verdict_name(BootVerdict verdict) {
  switch (verdict) {
    case BootVerdict::healthy:
      return "healthy";
    case BootVerdict::unhealthy:
      return "unhealthy";
    case BootVerdict::committed:
      return "committed";
    case BootVerdict::failed:
      return "failed";
  }
  return "unknown";
}

Expected<BootAssessment> assess_boot(const BootContext& context, const HealthConfig& config,
                                     BootSeams seams) {
  auto state = CAIRN_TRY(load_state(context.state_dir));
  auto history = CAIRN_TRY(History::load(context.state_dir));
  BootAssessment result{.version = context.layout.slot(context.booted).version(),
                        .slot = context.booted};

  bool other_pending = state.pending && state.pending->slot != context.booted;
  if (other_pending && state.pending->install_boot_id != context.boot_id) {
    CAIRN_CHECK(record_rollback(context, state, history, seams.esp, result));
  }

  if (!state.pending || state.pending->slot != context.booted) {
    // Nothing under observation (or an update installed during this very boot): one round.
    result.report = observe(seams.checks, std::chrono::seconds(0), config.interval, seams.clock,
                            seams.on_round);
    result.verdict = result.report.healthy ? BootVerdict::healthy : BootVerdict::unhealthy;
    return result;
  }

  PendingSlot& pending = *state.pending;
  UpdateRecord* record = &record_for(history, pending, context.layout);
  record->outcome = std::string(kObserving);
  record->add_event("booted from slot " + std::string(1, pending.slot) + "; observing for " +
                    std::to_string(config.window.count()) + " s");
  CAIRN_CHECK(history.save(context.state_dir));  // a crash in the window leaves a trace

  result.report =
      observe(seams.checks, config.window, config.interval, seams.clock, seams.on_round);
  record = &record_for(history, pending, context.layout);
  record->checks = result.report.last_round;
  record->warnings = result.report.warnings;
  std::string window_text =
      std::to_string(result.report.rounds) + " rounds in " + seconds_text(result.report.seconds);
  if (result.report.healthy) {
    state.security_floor = std::max(state.security_floor, pending.security_version);
    state.pending.reset();
    CAIRN_CHECK(save_state(context.state_dir, state));
    record->outcome = std::string(kCommitted);
    record->add_event("observation window passed (" + window_text + "): committed");
    CAIRN_CHECK(history.save(context.state_dir));
    result.verdict = BootVerdict::committed;
    return result;
  }

  // Unhealthy: remember why before touching the entries, then make the old version the default.
  pending.failure = "health check " + result.report.reason;
  CAIRN_CHECK(save_state(context.state_dir, state));
  record->outcome = std::string(kFailed);
  record->reason = pending.failure;
  record->add_event(pending.failure + " (" + window_text + "); rebooting into " +
                    context.layout.other(context.booted).version());
  CAIRN_CHECK(history.save(context.state_dir));
  CAIRN_TRY(spend_entries(seams.esp, pending.version));
  CAIRN_CHECK(seams.manager.reboot());
  result.verdict = BootVerdict::failed;
  return result;
}

}  // namespace cairn::updater
