#include "updater/poll.hpp"

#include <cstdio>

namespace cairn::updater {

namespace {

using fleet::ChannelIndex;
using fleet::UpdateChoice;

std::string clock_text(int minute_of_day) {
  char text[32];
  std::snprintf(text, sizeof text, "%02d:%02d", minute_of_day / 60, minute_of_day % 60);
  return text;
}

// The index the channel serves now: fetched conditionally, verified before anything reads it.
// A 304 answer means the cached copy, verified again (it may have expired since).
Expected<ChannelIndex> current_index(const FleetConfig& config, const ChannelUrl& channel,
                                     const std::filesystem::path& state_dir, PollState& state,
                                     PollSeams& seams) {
  auto cached = CAIRN_TRY(load_cached_index(state_dir));
  std::string etag = cached ? state.etag : "";
  auto fetched = CAIRN_TRY(seams.fetcher.get(config.channel, etag, kMaxIndexBytes));
  fleet::IndexExpectations expected{
      .now = seams.now(), .channel = channel.name, .last_serial = state.last_serial};
  if (fetched.not_modified) {
    return fleet::verify_channel_index(cached->index, cached->signature, seams.verifier, expected);
  }
  auto signature =
      CAIRN_TRY(seams.fetcher.get(config.channel + ".sig", "", kMaxSignatureBytes)).body;
  auto index =
      CAIRN_TRY(fleet::verify_channel_index(fetched.body, signature, seams.verifier, expected));
  CAIRN_CHECK(save_cached_index(state_dir, {.index = fetched.body, .signature = signature}));
  state.etag = fetched.etag;
  state.last_serial = index.serial;
  // The serial now seen is what refuses a replay of older ones: kept before anything else.
  CAIRN_CHECK(save_poll_state(state_dir, state));
  return index;
}

// Versions the fleet store stops (halted, paused, pulled), and the host's own failures.
fleet::SkipReason skip_reason(const PollFacts& facts,
                              const std::map<std::string, fleet::VersionControl>* controls) {
  return [&facts, controls](const fleet::ChannelEntry& entry) -> std::optional<std::string> {
    if (facts.rolled_back.contains(entry.version)) {
      return entry.version + " rolled back on this host";
    }
    if (controls) {
      if (auto it = controls->find(entry.version); it != controls->end()) {
        return entry.version + " " + std::string(fleet::control_state_name(it->second.state)) +
               " in the fleet store" + (it->second.reason.empty() ? "" : ": " + it->second.reason);
      }
    }
    return std::nullopt;
  };
}

std::string waiting_message(const UpdateChoice& choice) {
  std::string text = choice.entry->version + ": waiting for its wave (bucket " +
                     std::to_string(choice.bucket).substr(0, 6) + ")";
  if (choice.eligible_at) text += ", eligible at " + fleet::format_time(*choice.eligible_at);
  return text;
}

// The update to take, with the fleet store's word on it: the store is asked only when the
// index offers something this host would install (a poll that finds nothing new costs it
// nothing), and an unreachable store means no install starts.
Expected<UpdateChoice> choose(const ChannelIndex& index, const PollFacts& facts, PollSeams& seams,
                              std::map<std::string, fleet::VersionControl>& controls) {
  fleet::ChoiceInput input{.machine_class = facts.machine_class,
                           .running_version = facts.running_version,
                           .machine_id = facts.machine_id,
                           .now = seams.now(),
                           .skip = skip_reason(facts, nullptr)};
  auto choice = fleet::choose_update(index, input);
  if (choice.kind != UpdateChoice::Kind::eligible || !seams.store) return choice;
  auto stored = seams.store->controls();
  if (!stored) {
    return fail(stored.error().code(), "not starting " + choice.entry->version +
                                           ": the fleet store cannot say whether it is halted: " +
                                           stored.error().message());
  }
  controls = std::move(*stored);
  input.skip = skip_reason(facts, &controls);
  return fleet::choose_update(index, input);
}

// Why `version` may not go ahead now: its state in the index, or the fleet store's control.
Expected<std::optional<std::string>> stopped_reason(const ChannelIndex& index,
                                                    const std::string& version, PollSeams& seams) {
  for (const auto& entry : index.entries) {
    if (entry.version == version && entry.state != fleet::EntryState::active) {
      return "it is " + std::string(fleet::entry_state_name(entry.state)) + " in the channel";
    }
  }
  if (!seams.store) return std::optional<std::string>();
  auto controls = seams.store->controls();
  if (!controls) {
    return fail(controls.error().code(), "not rebooting into " + version +
                                             ": the fleet store cannot say whether it is "
                                             "halted: " +
                                             controls.error().message());
  }
  auto it = controls->find(version);
  if (it == controls->end()) return std::optional<std::string>();
  return "it is " + std::string(fleet::control_state_name(it->second.state)) +
         " in the fleet store" + (it->second.reason.empty() ? "" : ": " + it->second.reason);
}

// The reboot, once the gate lets it through; `result.message` says what happened either way.
Status reboot_through_gate(PollSeams& seams, const std::string& version, RebootKind kind,
                           PollResult& result) {
  if (seams.pass_gate) {
    auto gate = CAIRN_TRY(seams.pass_gate(version, kind));
    result.message += ": " + gate.message;
    if (!gate.open) return {};
  }
  CAIRN_CHECK(seams.reboot());
  result.rebooting = true;
  return {};
}

}  // namespace

Expected<ChannelUrl> parse_channel_url(const std::string& url) {
  auto slash = url.rfind('/');
  constexpr std::string_view kDir = "/channels/";
  if (slash == std::string::npos || !url.ends_with(".json") || slash + 1 + 5 >= url.size() + 1 ||
      url.compare(slash + 1 - kDir.size(), kDir.size(), kDir) != 0) {
    return fail(Errc::invalid_input,
                "channel URL " + url + " does not name a channel index (…/channels/<name>.json)");
  }
  std::string name = url.substr(slash + 1, url.size() - slash - 1 - 5);
  if (name.empty()) return fail(Errc::invalid_input, "channel URL " + url + " names no channel");
  return ChannelUrl{.name = name, .root = url.substr(0, slash + 1 - kDir.size() + 1)};
}

RebootDecision decide_reboot(const FleetConfig& config, const std::string& version,
                             int local_minute_of_day) {
  switch (config.reboot) {
    case RebootPolicy::now:
      return {.reboot = true, .message = version + " installed: rebooting into it"};
    case RebootPolicy::window:
      if (config.in_window(local_minute_of_day)) {
        return {.reboot = true,
                .message = version + " installed: rebooting into it in the reboot window"};
      }
      return {.message = version + " installed: reboots in the window " +
                         clock_text(config.window_start) + "-" + clock_text(config.window_end)};
    case RebootPolicy::manual:
      break;
  }
  return {.message = version + " installed: reboot to try it (reboot = \"manual\")"};
}

Expected<PollResult> poll_channel(const FleetConfig& config, const std::filesystem::path& state_dir,
                                  const PollFacts& facts, PollSeams& seams, PollState& state) {
  auto channel = CAIRN_TRY(parse_channel_url(config.channel));
  auto index = CAIRN_TRY(current_index(config, channel, state_dir, state, seams));

  PollResult result;
  const HostState& host = facts.state;
  if (host.phase == Phase::installed && host.pending) {
    // A version stopped since it was installed (paused, pulled, halted) is not rebooted into.
    if (auto stopped = CAIRN_TRY(stopped_reason(index, host.pending->version, seams))) {
      result.message = host.pending->version + " installed, not rebooting into it: " + *stopped;
      return result;
    }
    auto decision = decide_reboot(config, host.pending->version, seams.local_minute_of_day());
    result.message = decision.message;
    if (decision.reboot) {
      CAIRN_CHECK(reboot_through_gate(seams, host.pending->version, RebootKind::update, result));
    }
    return result;
  }
  if (host.phase == Phase::failed && host.pending && host.pending->slot == facts.booted_slot) {
    // Its window failed, and the gate held the rollback reboot back (lock, hooks, guests).
    result.message =
        host.pending->version + " failed (" + host.pending->failure + "), rolling back";
    // The hooks hear the version the rollback boots, as from the window's own rollback reboot.
    CAIRN_CHECK(reboot_through_gate(seams, facts.other_version, RebootKind::rollback, result));
    return result;
  }
  if (phase_has_update(host.phase)) {
    result.message = "update to " + (host.pending ? host.pending->version : std::string("?")) +
                     " under way (" + std::string(phase_name(host.phase)) + ")";
    return result;
  }
  std::map<std::string, fleet::VersionControl> controls;
  auto choice = CAIRN_TRY(choose(index, facts, seams, controls));
  switch (choice.kind) {
    case UpdateChoice::Kind::up_to_date:
      result.message =
          "up to date (" + facts.running_version + ", serial " + std::to_string(index.serial) + ")";
      return result;
    case UpdateChoice::Kind::skipped:
      result.message = "no update to take: " + choice.reason;
      return result;
    case UpdateChoice::Kind::waiting:
      result.message = waiting_message(choice);
      return result;
    case UpdateChoice::Kind::eligible:
      break;
  }
  const fleet::ChannelEntry& entry = *choice.entry;
  // Remembered before the install: the outcome's report needs the rollout's allowance even
  // when this process does not live to see the install end.
  state.adopted = AdoptedUpdate{.version = entry.version,
                                .channel = channel.name,
                                .max_failures = entry.rollout.max_failures};
  CAIRN_CHECK(save_poll_state(state_dir, state));
  CAIRN_TRY(seams.install(channel.root + entry.bundle.path,
                          SourceOptions{.ca_file = config.ca_file,
                                        .expected_size = entry.bundle.size,
                                        .expected_sha256 = entry.bundle.sha256,
                                        .same_scheme_redirects = true}));
  result.installed = entry.version;
  auto decision = decide_reboot(config, entry.version, seams.local_minute_of_day());
  result.message = decision.message;
  if (decision.reboot) {
    CAIRN_CHECK(reboot_through_gate(seams, entry.version, RebootKind::update, result));
  }
  return result;
}

}  // namespace cairn::updater
