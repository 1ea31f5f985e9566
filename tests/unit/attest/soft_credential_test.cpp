#include "unit/attest/soft_credential.hpp"

#include <catch2/catch.hpp>

#include "attest/tpm/structures.hpp"
#include "unit/attest/soft_tpm.hpp"

namespace tpm = cairn::attest::tpm;
using cairn::attest::testing::activate_credential;
using cairn::attest::testing::AkAlgorithm;
using cairn::attest::testing::Bytes;
using cairn::attest::testing::SoftTpm;

TEST_CASE("a soft TPM releases make_credential's secret for its own EK and AK name only",
          "[tpm][soft-tpm]") {
  SoftTpm tpm(3, AkAlgorithm::ecc);
  SoftTpm other(4);
  auto ek = tpm::parse_endorsement_key(tpm.ek_public());
  REQUIRE(ek.has_value());
  Bytes secret(32);
  for (std::size_t i = 0; i < secret.size(); ++i) secret[i] = static_cast<std::uint8_t>(i * 7);
  auto credential = tpm::make_credential(*ek, secret, tpm.ak_name());
  REQUIRE(credential.has_value());
  const auto& blob = credential->credential_blob;
  const auto& wrapped = credential->encrypted_secret;

  CHECK(activate_credential(tpm.ek_key(), tpm.ak_name(), blob, wrapped) == secret);
  CHECK_FALSE(activate_credential(tpm.ek_key(), other.ak_name(), blob, wrapped));
  CHECK_FALSE(activate_credential(other.ek_key(), tpm.ak_name(), blob, wrapped));
  Bytes flipped = blob;
  flipped.back() ^= 1;
  CHECK_FALSE(activate_credential(tpm.ek_key(), tpm.ak_name(), flipped, wrapped));
  CHECK_FALSE(activate_credential(tpm.ek_key(), tpm.ak_name(), Bytes(blob.begin(), blob.end() - 1),
                                  wrapped));
}
