// The strict JSON reader every signed document goes through (duplicate keys, depth limit).
#include "common/strict_json.hpp"

#include <cstdint>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cairn::fuzz::Input input{{data, size}};
  auto value = cairn::parse_strict_json(input.text(), "fuzz input");
  if (!value) return 0;
  // What it accepted, written back out, reads the same (compared as text: a number too large for
  // a double is written as null).
  std::string dumped = value->dump();
  auto again = cairn::parse_strict_json(dumped, "dump");
  if (!again || again->dump() != dumped) __builtin_trap();
  return 0;
}
