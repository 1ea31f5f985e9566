#include "updater/boot_assessment.hpp"

#include <cstdio>
#include <thread>

namespace cairn::updater {

namespace {

// The lock is held for a transition, not for the whole window: an administrator's mark-good or
// rollback, or a status, is not kept waiting by a ten-minute window.
constexpr auto kLockPatience = std::chrono::seconds(30);

Expected<Lifecycle> open_lifecycle(const BootContext& context) {
  auto deadline = std::chrono::steady_clock::now() + kLockPatience;
  for (;;) {
    auto lifecycle = Lifecycle::open(context.state_dir, context.on_transition);
    if (lifecycle || lifecycle.error().code() != Errc::busy ||
        std::chrono::steady_clock::now() > deadline) {
      return lifecycle;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f s", seconds);
  return text;
}

// This boot alone: one round of checks.
BootAssessment one_round(const HealthConfig& config, BootSeams& seams, BootAssessment result) {
  result.report =
      observe(seams.checks, std::chrono::seconds(0), config.interval, seams.clock, seams.on_round);
  result.verdict = result.report.healthy ? BootVerdict::healthy : BootVerdict::unhealthy;
  return result;
}

std::optional<UpdateRecord> latest_record(const BootContext& context, const PendingSlot& update) {
  auto history = History::load(context.state_dir);
  if (!history) return std::nullopt;
  if (auto* record = history->latest(update.version, update.slot)) return *record;
  return std::nullopt;
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
  BootAssessment result{.version = context.layout.slot(context.booted).version(),
                        .slot = context.booted};
  std::optional<PendingSlot> observed;
  {
    auto lifecycle = CAIRN_TRY(open_lifecycle(context));
    const HostState& state = lifecycle.state();
    bool on_other_slot = state.pending && state.pending->slot != context.booted;
    if (on_other_slot && state.phase != Phase::installing &&
        (state.phase == Phase::failed || state.pending->install_boot_id != context.boot_id)) {
      // The update never came up, or failed its window: this boot is its rollback.
      PendingSlot update = *state.pending;
      CAIRN_CHECK(lifecycle.record_rollback(seams.esp, result.version, context.booted));
      result.rolled_back = latest_record(context, update);
    }
    const HostState& now = lifecycle.state();
    if (!now.pending || now.pending->slot != context.booted || now.phase == Phase::installing) {
      // Nothing under observation (or an update installed during this very boot).
      return one_round(config, seams, std::move(result));
    }
    if (now.phase == Phase::failed) {
      // It failed, but the reboot away from it never happened (a power cut): again.
      CAIRN_TRY(spend_entries_of(seams.esp, now.pending->version));
      CAIRN_CHECK(seams.manager.reboot());
      result.verdict = BootVerdict::failed;
      result.report.reason = now.pending->failure;
      return result;
    }
    CAIRN_CHECK(lifecycle.start_observing(config.window));
    observed = *lifecycle.state().pending;
  }

  result.report =
      observe(seams.checks, config.window, config.interval, seams.clock, seams.on_round);
  std::string window_text =
      std::to_string(result.report.rounds) + " rounds in " + seconds_text(result.report.seconds);

  auto lifecycle = CAIRN_TRY(open_lifecycle(context));
  const HostState& state = lifecycle.state();
  if (state.phase != Phase::observing || !state.pending ||
      state.pending->version != observed->version) {
    // An administrator decided during the window (mark-good, mark-bad, rollback): theirs stands.
    result.verdict = state.phase == Phase::committed ? BootVerdict::committed
                     : state.phase == Phase::failed  ? BootVerdict::failed
                                                     : BootVerdict::healthy;
    return result;
  }
  lifecycle.note_checks(result.report.last_round, result.report.warnings);
  if (result.report.healthy) {
    CAIRN_CHECK(lifecycle.commit(Verdict::health_window, window_text));
    result.verdict = BootVerdict::committed;
    return result;
  }
  // Unhealthy: the reason is saved before the entries change, then the old version is next.
  CAIRN_CHECK(lifecycle.mark_failed(Verdict::health_window, "health check " + result.report.reason,
                                    seams.esp, context.booted));
  CAIRN_CHECK(seams.manager.reboot());
  result.verdict = BootVerdict::failed;
  return result;
}

}  // namespace cairn::updater
