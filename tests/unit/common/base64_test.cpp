#include "common/base64.hpp"

#include <catch2/catch.hpp>

using namespace cairn;

TEST_CASE("base64 round trips every length and matches RFC 4648 vectors", "[base64]") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    auto decoded = base64_decode(base64_encode(bytes));
    REQUIRE(decoded.has_value());
    CHECK(*decoded == bytes);
    bytes.push_back(static_cast<char>(i * 37 + 200));  // high bytes, NULs on the way
  }
  CHECK(*base64_decode("/+8=") == "\xff\xef");
}

TEST_CASE("base64 decoding refuses anything but padded standard base64", "[base64]") {
  for (const char* bad : {"Zg", "Zg=", "Zm9", "Z===", "====", "Zg==Zg==", "Zm9v\n", " Zm9v", "Zm-v",
                          "Zm_v", "Zm9v====", "Zh==", "Zm9=" /* stray bits */}) {
    INFO(bad);
    auto decoded = base64_decode(bad);
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error().code() == Errc::invalid_input);
  }
}
