// Which hosts take a version, and when: every host has a stable place in [0, 1) for each version
// (its bucket), and a rollout opens that interval wave by wave. Hashing the version in spreads
// the early hosts differently for each release, so the same machines are not always first.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "fleet/channel_index.hpp"

namespace cairn::fleet {

// The first 64 bits of SHA-256(machine_id ‖ version), big-endian, divided by 2^64.
double host_bucket(std::string_view machine_id, std::string_view version);

// The fraction of hosts the rollout admits at `now`: the fraction of the last wave whose
// start + delay has passed; 0 before the first.
double admitted_fraction(const Rollout& rollout, TimePoint now);
// When the wave admitting `bucket` opens (nullopt: no wave ever admits it).
std::optional<TimePoint> admitted_at(const Rollout& rollout, double bucket);

// A host is eligible once the current wave's fraction exceeds its bucket.
inline bool eligible(double bucket, double fraction) { return bucket < fraction; }

// Why a version the index offers is not taken (outside the index's own state).
using SkipReason = std::function<std::optional<std::string>(const ChannelEntry&)>;

struct UpdateChoice {
  enum class Kind {
    up_to_date,  // nothing newer for this machine class
    skipped,     // newer versions exist, each paused, pulled, halted or refused by `skip`
    waiting,     // the newest usable version's wave has not reached this host yet
    eligible,    // install `entry`
  };
  Kind kind = Kind::up_to_date;
  const ChannelEntry* entry = nullptr;  // waiting or eligible: the chosen entry
  double bucket = 0;
  std::optional<TimePoint> eligible_at;  // waiting
  std::string reason;                    // one line for status: what was skipped and why
};

struct ChoiceInput {
  std::string_view machine_class;
  std::string_view running_version;
  std::string_view machine_id;
  TimePoint now;
  SkipReason skip;  // the fleet store's halts and pauses, the host's own failed versions
};

// The newest entry for the machine class above the running version, skipping versions whose
// state is not active or that `skip` refuses; then the wave decides.
UpdateChoice choose_update(const ChannelIndex& index, const ChoiceInput& input);

}  // namespace cairn::fleet
