// The channel index (signed JSON a host fetches from a repository it does not control): parse,
// and what parses must survive a round trip through its canonical form unchanged. Times and
// rollout arithmetic on what parsed must not trap either (UBSan: overflowing sys_seconds).
#include "fleet/channel_index.hpp"

#include <cstdint>

#include "fleet/rollout.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cairn::fuzz::Input input{{data, size}};
  cairn::fuzz::check_round_trip(input.text(), cairn::fleet::parse_channel_index,
                                cairn::fleet::channel_index_json);
  if (auto index = cairn::fleet::parse_channel_index(input.text())) {
    for (const auto& entry : index->entries) {
      cairn::fleet::admitted_fraction(entry.rollout, index->expires);
      cairn::fleet::admitted_at(entry.rollout, 0.5);
    }
    cairn::fleet::choose_update(*index, {.machine_class = "x86_64-kvm",
                                         .running_version = "1.0",
                                         .machine_id = "fuzz",
                                         .now = index->expires,
                                         .skip = {}});
  }
  return 0;
}
