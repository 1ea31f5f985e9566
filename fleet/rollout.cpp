#include "fleet/rollout.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "common/hash.hpp"
#include "common/version.hpp"

namespace cairn::fleet {

namespace {

std::string fraction_text(double fraction) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", fraction);
  return text;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

}  // namespace

double host_bucket(std::string_view machine_id, std::string_view version) {
  Sha256 hash;
  hash.update(machine_id);
  hash.update(version);
  Sha256Digest digest = hash.finish();
  std::uint64_t first = 0;
  for (std::size_t i = 0; i < 8; ++i) first = (first << 8) | digest[i];
  // The top 53 of the 64 bits, so that the division is exact in a double: x / 2^64 itself rounds
  // up to 1.0 for the largest x, and a bucket of 1.0 would be admitted by no wave, not even a
  // full rollout's. The 11 bits dropped move a bucket by less than 2^-53.
  return static_cast<double>(first >> 11) * 0x1p-53;
}

double admitted_fraction(const Rollout& rollout, TimePoint now) {
  double fraction = 0;
  for (const Wave& wave : rollout.waves) {
    if (now >= rollout.start + wave.delay) fraction = wave.fraction;
  }
  return fraction;
}

std::optional<TimePoint> admitted_at(const Rollout& rollout, double bucket) {
  for (const Wave& wave : rollout.waves) {
    if (eligible(bucket, wave.fraction)) return rollout.start + wave.delay;
  }
  return std::nullopt;
}

UpdateChoice choose_update(const ChannelIndex& index, const ChoiceInput& input) {
  std::vector<const ChannelEntry*> newer;
  for (const ChannelEntry& entry : index.entries) {
    if (entry.machine_class == input.machine_class &&
        compare_versions(entry.version, input.running_version) > 0) {
      newer.push_back(&entry);
    }
  }
  UpdateChoice choice;
  if (newer.empty()) {
    choice.reason = "up to date: nothing newer than " + std::string(input.running_version) +
                    " for machine class " + std::string(input.machine_class);
    return choice;
  }
  std::ranges::sort(newer, [](const ChannelEntry* a, const ChannelEntry* b) {
    return compare_versions(a->version, b->version) > 0;
  });
  std::vector<std::string> skipped;
  for (const ChannelEntry* entry : newer) {
    if (entry->state != EntryState::active) {
      skipped.push_back(entry->version + " is " + std::string(entry_state_name(entry->state)));
      continue;
    }
    if (input.skip) {
      if (auto why = input.skip(*entry)) {
        skipped.push_back(entry->version + ": " + *why);
        continue;
      }
    }
    // The newest usable version decides alone: a host whose wave for it has not come yet waits
    // rather than taking an older one, so that a rollout never splits the fleet three ways.
    choice.entry = entry;
    choice.bucket = host_bucket(input.machine_id, entry->version);
    double fraction = admitted_fraction(entry->rollout, input.now);
    std::string position =
        "bucket " + fraction_text(choice.bucket) + ", rollout at " + fraction_text(fraction);
    if (eligible(choice.bucket, fraction)) {
      choice.kind = UpdateChoice::Kind::eligible;
      choice.reason = entry->version + " is eligible (" + position + ")";
    } else {
      choice.kind = UpdateChoice::Kind::waiting;
      choice.eligible_at = admitted_at(entry->rollout, choice.bucket);
      choice.reason = entry->version + " waits for its wave (" + position + ", " +
                      (choice.eligible_at ? "from " + format_time(*choice.eligible_at)
                                          : std::string("no wave reaches this host")) +
                      ")";
    }
    if (!skipped.empty()) choice.reason += "; skipped " + join(skipped, "; ");
    return choice;
  }
  choice.kind = UpdateChoice::Kind::skipped;
  choice.reason = "skipped " + join(skipped, "; ");
  return choice;
}

}  // namespace cairn::fleet
