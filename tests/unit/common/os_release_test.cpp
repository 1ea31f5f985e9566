#include "common/os_release.hpp"

#include <catch2/catch.hpp>

using namespace cairn;

TEST_CASE("os-release fields are read exactly, quotes removed", "[os-release]") {
  std::string text =
      "NAME=\"Debian GNU/Linux\"\nIMAGE_VERSION=1.0.0\nIMAGE_VERSION_ID=x\nID='debian'\n";
  CHECK(os_release_field(text, "NAME") == "Debian GNU/Linux");
  CHECK(os_release_field(text, "IMAGE_VERSION") == "1.0.0");
  CHECK(os_release_field(text, "ID") == "debian");
  CHECK_FALSE(os_release_field(text, "IMAGE").has_value());
  CHECK_FALSE(os_release_field(text, "VERSION").has_value());
  CHECK(os_release_field("A=1\nA=2", "A") == "2");  // as a shell sourcing it would see
}

TEST_CASE("an image's security version comes from its os-release", "[os-release]") {
  CHECK(image_security_version("ID=debian\nCAIRN_SECURITY_VERSION=7\n", "x").value() == 7);
  CHECK(image_security_version("ID=debian\nCAIRN_SECURITY_VERSION=\"7\"", "x").value() == 7);
  // Built before Cairn recorded it: no floor from the image.
  CHECK(image_security_version("ID=debian\n", "x").value() == 0);
  for (const char* bad :
       {"CAIRN_SECURITY_VERSION=", "CAIRN_SECURITY_VERSION=-1", "CAIRN_SECURITY_VERSION=7a",
        "CAIRN_SECURITY_VERSION=99999999999999999999"}) {
    INFO(bad);
    auto parsed = image_security_version(bad, "/usr/lib/os-release");
    REQUIRE_FALSE(parsed.has_value());
    CHECK_THAT(parsed.error().message(),
               Catch::Contains("/usr/lib/os-release: CAIRN_SECURITY_VERSION="));
  }
}
