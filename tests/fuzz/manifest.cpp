// The bundle manifest (signed JSON): parse, and what parses must survive a round trip through
// its canonical form unchanged.
#include "common/manifest.hpp"

#include <cstdint>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cairn::fuzz::Input input{{data, size}};
  cairn::fuzz::check_round_trip(input.text(), cairn::parse_manifest,
                                [](const auto& parsed) { return cairn::to_json(parsed); });
  return 0;
}
