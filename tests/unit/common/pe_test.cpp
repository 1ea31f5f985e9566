#include "common/pe.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace cairn;

namespace {

// An MZ header pointing at "PE\0\0" right after it, and a COFF header declaring an optional
// header of `optional_size` bytes, followed by `optional`.
std::string pe_headers(std::uint16_t optional_size, const std::string& optional) {
  std::string image(0x40, '\0');
  image[0] = 'M', image[1] = 'Z';
  image[0x3c] = 0x40;
  image += std::string("PE\0\0", 4) + std::string(20, '\0');
  image[0x40 + 4 + 16] = static_cast<char>(optional_size & 0xff);
  image[0x40 + 4 + 17] = static_cast<char>(optional_size >> 8);
  return image + optional;
}

}  // namespace

TEST_CASE("parse_pe refuses an optional header too short for the fields it reads (tests/fuzz)") {
  // As the harness found them: the header ends where the optional header should start, or holds
  // only its magic; both were read past the end of the bytes.
  for (const auto& image : {pe_headers(0, ""), pe_headers(2, std::string("\x0b\x02", 2))}) {
    auto parsed = parse_pe(image, "short.efi");
    REQUIRE_FALSE(parsed.has_value());
    CHECK_THAT(parsed.error().describe(), Catch::Contains("truncated optional header"));
  }
  std::string optional(60, '\0');
  optional[0] = 0x0b, optional[1] = 0x02;  // PE32+
  auto parsed = parse_pe(pe_headers(60, optional), "minimal.efi");
  REQUIRE(parsed.has_value());
  CHECK(parsed->sections.empty());
}
