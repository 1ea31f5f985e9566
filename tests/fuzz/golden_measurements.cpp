// measurements.json as the verifier loads it: parse, and a round trip through the canonical form.
#include "common/golden_measurements.hpp"

#include <cstdint>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cairn::fuzz::Input input{{data, size}};
  cairn::fuzz::check_round_trip(input.text(), cairn::parse_golden_measurements,
                                [](const auto& parsed) { return cairn::to_json(parsed); });
  return 0;
}
