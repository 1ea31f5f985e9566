// Channel index entries for the fleet tests: a version of a machine class with a full rollout
// from `start`, and times written as the index writes them.
#pragma once

#include <catch2/catch.hpp>
#include <string>

#include "fleet/channel_index.hpp"

namespace cairn::fleet::testing {

inline TimePoint at(const std::string& rfc3339) {
  auto when = parse_time(rfc3339);
  REQUIRE(when.has_value());
  return *when;
}

inline ChannelEntry sample_entry(const std::string& version,
                                 const std::string& machine_class = "x86_64-kvm",
                                 TimePoint start = at("2026-12-03T21:00:00Z")) {
  return ChannelEntry{
      .version = version,
      .security_version = 1,
      .machine_class = machine_class,
      .bundle = {.path = "bundles/kvm-host_" + version + ".cairnb",
                 .size = 123,
                 .sha256 = std::string(64, 'a')},
      .published = start,
      .rollout = {.start = start, .waves = {{1.0, std::chrono::seconds(0)}}, .max_failures = 3},
      .state = EntryState::active};
}

}  // namespace cairn::fleet::testing
