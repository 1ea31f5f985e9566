#include "common/hash.hpp"

#include <catch2/catch.hpp>

using namespace cairn;

TEST_CASE("sha256 of a known string") {
  CHECK(to_hex(sha256(std::string_view("abc"))) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("hex round trip and bad hex") {
  auto bytes = from_hex("00ff10");
  REQUIRE(bytes.has_value());
  CHECK(bytes->size() == 3);
  CHECK(static_cast<unsigned char>((*bytes)[1]) == 0xff);
  CHECK_FALSE(from_hex("0g").has_value());
  CHECK_FALSE(from_hex("abc").has_value());
}
