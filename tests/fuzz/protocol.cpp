// The verifier's request bodies, as its HTTP front hands them over from any client. The first
// byte chooses the parser; what parses must round-trip through to_json unchanged.
#include "attest/protocol.hpp"

#include <cstdint>

#include "fuzz_input.hpp"

namespace {

template <class Parse>
void check(std::string_view json, Parse parse) {
  cairn::fuzz::check_round_trip(json, parse,
                                [](const auto& parsed) { return cairn::attest::to_json(parsed); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cairn::attest;
  cairn::fuzz::Input input{{data, size}};
  std::uint8_t selector = input.take_selector();
  std::string_view json = input.text();
  switch (selector % 5) {
    case 0:
      check(json, parse_EnrollRequest);
      break;
    case 1:
      check(json, parse_EnrollActivation);
      break;
    case 2:
      check(json, parse_NonceRequest);
      break;
    case 3:
      check(json, parse_QuoteSubmission);
      break;
    case 4:
      if (auto bytes = base64_decode(json); bytes && base64_encode(*bytes) != json) {
        __builtin_trap();  // one encoding per byte string: what decodes is canonical
      }
      break;
  }
  return 0;
}
