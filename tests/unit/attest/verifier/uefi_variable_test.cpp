#include "attest/verifier/uefi_variable.hpp"

#include <catch2/catch.hpp>

#include "unit/attest/soft_tpm.hpp"

using namespace cairn;
using namespace cairn::attest::verifier;
using cairn::attest::testing::Bytes;
using cairn::attest::testing::uefi_variable;

TEST_CASE("UEFI_VARIABLE_DATA parses into GUID, name and data", "[verifier][uefi]") {
  auto bytes = uefi_variable(kEfiGlobalVariable, "SecureBoot", {1});
  auto variable = parse_uefi_variable(bytes);
  REQUIRE(variable.has_value());
  CHECK(variable->guid == kEfiGlobalVariable);
  CHECK(variable->name == "SecureBoot");
  CHECK(variable->data == Bytes{1});
  CHECK(parse_uefi_variable(uefi_variable(kEfiImageSecurityDatabase, "db", {}))->data.empty());
}

TEST_CASE("UEFI_VARIABLE_DATA whose lengths disagree is refused", "[verifier][uefi]") {
  auto bytes = uefi_variable(kEfiGlobalVariable, "SecureBoot", {1});
  SECTION("truncated") { bytes.pop_back(); }
  SECTION("trailing byte") { bytes.push_back(0); }
  SECTION("a name length that would wrap") {
    for (std::size_t i = 16; i < 24; ++i) bytes[i] = 0xff;
  }
  SECTION("shorter than the header") { bytes.resize(20); }
  auto variable = parse_uefi_variable(bytes);
  REQUIRE_FALSE(variable);
  CHECK(variable.error().code() == Errc::integrity);
}

TEST_CASE("a GUID's text gives the EFI_GUID byte layout", "[verifier][uefi]") {
  CHECK(guid_from_text("8be4df61-93ca-11d2-aa0d-00e098032b8c") == kEfiGlobalVariable);
  CHECK(guid_from_text("D719B2CB-3D3A-4596-A3BC-DAD00E67656F") == kEfiImageSecurityDatabase);
  for (const char* bad :
       {"", "8be4df61-93ca-11d2-aa0d-00e098032b8", "8be4df61x93ca-11d2-aa0d-00e098032b8c",
        "8be4df61-93ca-11d2-aa0d-00e098032b8g", "8be4df6193ca11d2aa0d00e098032b8c1234"}) {
    INFO(bad);
    CHECK_FALSE(guid_from_text(bad).has_value());
  }
}
