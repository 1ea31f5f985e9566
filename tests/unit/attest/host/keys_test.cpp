#include "attest/host/keys.hpp"

#include <tss2/tss2_mu.h>

#include <catch2/catch.hpp>

#include "attest/host/quote.hpp"
#include "attest/protocol.hpp"
#include "common/hash.hpp"

using namespace cairn;
using namespace cairn::attest::host;

TEST_CASE("the EK policy is PolicySecret(TPM_RH_ENDORSEMENT) computed from scratch",
          "[attest][host][keys]") {
  // TPM 2.0 Part 3, PolicySecret: digest = H(H(0^32 || TPM_CC_PolicySecret || name) || ref).
  std::vector<std::uint8_t> first(32, 0);
  for (int byte : {0x00, 0x00, 0x01, 0x51, 0x40, 0x00, 0x00, 0x0b}) {
    first.push_back(static_cast<std::uint8_t>(byte));
  }
  auto step = sha256(first);
  auto policy = sha256(step);  // empty policyRef
  CHECK(to_hex(policy) == to_hex(kEkPolicy));
  CHECK(to_hex(kEkPolicy) == "837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa");
}

TEST_CASE("the EK template is the EK Credential Profile's L-1", "[attest][host][keys]") {
  TPM2B_PUBLIC templ = ek_template();
  const TPMT_PUBLIC& area = templ.publicArea;
  CHECK(area.type == TPM2_ALG_RSA);
  CHECK(area.nameAlg == TPM2_ALG_SHA256);
  CHECK(area.objectAttributes == 0x000300b2);
  CHECK(area.parameters.rsaDetail.symmetric.algorithm == TPM2_ALG_AES);
  CHECK(area.parameters.rsaDetail.symmetric.keyBits.aes == 128);
  CHECK(area.parameters.rsaDetail.symmetric.mode.aes == TPM2_ALG_CFB);
  CHECK(area.parameters.rsaDetail.keyBits == 2048);
  CHECK(area.parameters.rsaDetail.exponent == 0);
  REQUIRE(area.unique.rsa.size == 256);
  CHECK(std::all_of(area.unique.rsa.buffer, area.unique.rsa.buffer + 256,
                    [](std::uint8_t byte) { return byte == 0; }));
}

TEST_CASE("the AK template is a restricted RSASSA-SHA256 signing key", "[attest][host][keys]") {
  TPM2B_PUBLIC templ = ak_template();
  const TPMT_PUBLIC& area = templ.publicArea;
  CHECK(area.objectAttributes == 0x00050072);
  CHECK(area.parameters.rsaDetail.scheme.scheme == TPM2_ALG_RSASSA);
  CHECK(area.parameters.rsaDetail.scheme.details.rsassa.hashAlg == TPM2_ALG_SHA256);
  CHECK(area.parameters.rsaDetail.symmetric.algorithm == TPM2_ALG_NULL);
  // Marshals: the template is a valid TPM2B_PUBLIC.
  std::vector<std::uint8_t> buffer(sizeof(TPM2B_PUBLIC));
  std::size_t offset = 0;
  CHECK(Tss2_MU_TPM2B_PUBLIC_Marshal(&templ, buffer.data(), buffer.size(), &offset) ==
        TSS2_RC_SUCCESS);
  CHECK(offset > 2);
}

TEST_CASE("a PCR selection is a 3-byte sha256 bitmap", "[attest][host][quote]") {
  std::vector<std::uint32_t> pcrs(std::begin(cairn::attest::kQuotedPcrs),
                                  std::end(cairn::attest::kQuotedPcrs));
  auto selection = sha256_selection(pcrs);
  REQUIRE(selection);
  REQUIRE(selection->count == 1);
  CHECK(selection->pcrSelections[0].hash == TPM2_ALG_SHA256);
  CHECK(selection->pcrSelections[0].sizeofSelect == 3);
  // 0-5, 7 → 0xbf; 9, 11-15 → 0xfa; none of 16-23.
  CHECK(selection->pcrSelections[0].pcrSelect[0] == 0xbf);
  CHECK(selection->pcrSelections[0].pcrSelect[1] == 0xfa);
  CHECK(selection->pcrSelections[0].pcrSelect[2] == 0x00);
  std::vector<std::uint32_t> bad{3, 24};
  auto rejected = sha256_selection(bad);
  REQUIRE_FALSE(rejected);
  CHECK_THAT(rejected.error().message(), Catch::Contains("PCR 24"));
}
