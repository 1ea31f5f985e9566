// Real TPM data (swtpm + tpm2-tools, see ../data/make-fixtures.sh): quotes by RSASSA, RSAPSS and
// ECDSA AKs over the PCRs a host quotes, the EKs, and a signing key that is not restricted.
#include "attest/tpm/structures.hpp"

#include <tss2/tss2_mu.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "attest/protocol.hpp"

using namespace cairn;
using namespace cairn::attest;
using namespace cairn::attest::tpm;

namespace {

Bytes fixture(const std::string& name) {
  auto path = std::filesystem::path(__FILE__).parent_path().parent_path() / "data" / name;
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

// tpm2_quote -F values: the selected PCR values, 32 bytes each, in selection order.
std::map<std::uint32_t, Bytes> quoted_values(const std::string& key) {
  Bytes raw = fixture("quote_" + key + ".pcrs");
  REQUIRE(raw.size() == std::size(kQuotedPcrs) * 32);
  std::map<std::uint32_t, Bytes> values;
  for (std::size_t i = 0; i < std::size(kQuotedPcrs); ++i) {
    values[kQuotedPcrs[i]] = Bytes(raw.begin() + static_cast<long>(i * 32),
                                   raw.begin() + static_cast<long>(i * 32 + 32));
  }
  return values;
}

// The AK's TPM2B_PUBLIC with its attributes changed, re-marshaled as a TPM would send it.
Bytes with_attributes(const Bytes& tpm2b_public, std::uint32_t clear, std::uint32_t set) {
  TPM2B_PUBLIC parsed{};
  std::size_t offset = 0;
  REQUIRE(Tss2_MU_TPM2B_PUBLIC_Unmarshal(tpm2b_public.data(), tpm2b_public.size(), &offset,
                                         &parsed) == TSS2_RC_SUCCESS);
  parsed.publicArea.objectAttributes = (parsed.publicArea.objectAttributes & ~clear) | set;
  Bytes out(tpm2b_public.size());
  offset = 0;
  REQUIRE(Tss2_MU_TPM2B_PUBLIC_Marshal(&parsed, out.data(), out.size(), &offset) ==
          TSS2_RC_SUCCESS);
  out.resize(offset);
  return out;
}

std::string failure(const auto& result) {
  REQUIRE_FALSE(result.has_value());
  return result.error().describe();
}

}  // namespace

TEST_CASE("a TPM quote parses into the fields the verifier checks", "[tpm]") {
  auto key = GENERATE(as<std::string>{}, "rsa", "rsapss", "ecc");
  INFO(key);
  auto quote = parse_quote(fixture("quote_" + key + ".msg"));
  REQUIRE(quote.has_value());
  CHECK(quote->magic == kGeneratedValue);
  CHECK(quote->type == kStAttestQuote);
  CHECK(quote->extra_data == fixture("nonce.bin"));
  REQUIRE(quote->selection.size() == 1);
  CHECK(quote->selection[0].hash == TPM2_ALG_SHA256);
  CHECK(quote->selection[0].pcrs ==
        std::vector<std::uint32_t>(std::begin(kQuotedPcrs), std::end(kQuotedPcrs)));
  CHECK(quote->pcr_digest.size() == 32);
  CHECK(quote->pcr_digest == pcr_digest(quoted_values(key), quote->selection[0]));
  CHECK(quote->qualified_signer.size() == 34);  // sha256 name of the AK's hierarchy path
  CHECK(quote->clock.safe);

  // The digest is over the values: one changed PCR changes it.
  auto values = quoted_values(key);
  values[7][0] ^= 1;
  CHECK(pcr_digest(values, quote->selection[0]) != quote->pcr_digest);
  values.erase(7);
  CHECK(pcr_digest(values, quote->selection[0]).empty());
}

TEST_CASE("AKs parse with the name tpm2_createak printed", "[tpm]") {
  auto key = GENERATE(as<std::string>{}, "rsa", "rsapss", "ecc");
  INFO(key);
  Bytes marshaled = fixture("ak_" + key + ".pub");
  auto ak = parse_attestation_key(marshaled);
  REQUIRE(ak.has_value());
  CHECK(ak->name == fixture("ak_" + key + ".name"));
  CHECK(ak->name_alg == TPM2_ALG_SHA256);
  CHECK(ak->type == (key == "ecc" ? TPM2_ALG_ECC : TPM2_ALG_RSA));
  CHECK(ak->scheme == (key == "ecc"   ? TPM2_ALG_ECDSA
                       : key == "rsa" ? TPM2_ALG_RSASSA
                                      : TPM2_ALG_RSAPSS));
  CHECK(ak->scheme_hash == TPM2_ALG_SHA256);
  CHECK((ak->attributes & TPMA_OBJECT_RESTRICTED) != 0);
  CHECK((ak->attributes & TPMA_OBJECT_SIGN_ENCRYPT) != 0);
  CHECK(ak->marshaled == marshaled);
  CHECK(EVP_PKEY_get_bits(ak->key.get()) == (key == "ecc" ? 256 : 2048));
}

TEST_CASE("quote signatures verify, and a changed byte anywhere breaks them", "[tpm]") {
  auto key = GENERATE(as<std::string>{}, "rsa", "rsapss", "ecc");
  INFO(key);
  auto ak = parse_attestation_key(fixture("ak_" + key + ".pub"));
  REQUIRE(ak.has_value());
  Bytes attest = fixture("quote_" + key + ".msg");
  Bytes signature = fixture("quote_" + key + ".sig");
  REQUIRE(verify_signature(*ak, attest, signature).has_value());

  for (std::size_t i = 0; i < attest.size(); ++i) {
    Bytes changed = attest;
    changed[i] ^= 0x01;
    auto result = verify_signature(*ak, changed, signature);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code() == Errc::integrity);
  }
  // Every byte of the signature value (the scheme/hash header fails differently, also checked).
  for (std::size_t i = 0; i < signature.size(); ++i) {
    Bytes changed = signature;
    changed[i] ^= 0x01;
    auto result = verify_signature(*ak, attest, changed);
    INFO("signature byte " << i);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code() == Errc::integrity);
  }
  Bytes trailing = signature;
  trailing.push_back(0);
  CHECK_THAT(failure(verify_signature(*ak, attest, trailing)), Catch::Contains("1 trailing bytes"));
}

TEST_CASE("a quote is checked against the AK that signed it, in its own scheme", "[tpm]") {
  auto rsa = parse_attestation_key(fixture("ak_rsa.pub"));
  auto pss = parse_attestation_key(fixture("ak_rsapss.pub"));
  auto ecc = parse_attestation_key(fixture("ak_ecc.pub"));
  REQUIRE((rsa && pss && ecc));
  // Another AK (same TPM, same PCRs, same nonce).
  CHECK_THAT(failure(verify_signature(*rsa, fixture("quote_ecc.msg"), fixture("quote_ecc.sig"))),
             Catch::Contains("is not the AK's"));
  CHECK_THAT(failure(verify_signature(*pss, fixture("quote_rsa.msg"), fixture("quote_rsa.sig"))),
             Catch::Contains("is not the AK's"));
  CHECK_THAT(failure(verify_signature(*ecc, fixture("quote_rsa.msg"), fixture("quote_rsa.sig"))),
             Catch::Contains("is not the AK's"));
  // Same scheme, another AK of the same TPM: the signature itself fails.
  auto other = parse_attestation_key(fixture("ak_rsa2.pub"));
  REQUIRE(other.has_value());
  CHECK_THAT(failure(verify_signature(*other, fixture("quote_rsa.msg"), fixture("quote_rsa.sig"))),
             Catch::Contains("does not verify"));
  // Another quote's bytes under this signature.
  CHECK_THAT(failure(verify_signature(*rsa, fixture("quote_rsapss.msg"), fixture("quote_rsa.sig"))),
             Catch::Contains("does not verify"));
}

TEST_CASE("truncated, oversized and trailing structures are refused", "[tpm]") {
  Bytes attest = fixture("quote_rsa.msg");
  for (std::size_t length = 0; length < attest.size(); ++length) {
    INFO("attest prefix " << length);
    auto quote = parse_quote(std::span(attest).first(length));
    REQUIRE_FALSE(quote.has_value());
    CHECK(quote.error().code() == Errc::integrity);
  }
  Bytes trailing = attest;
  trailing.push_back(0);
  CHECK_THAT(failure(parse_quote(trailing)), Catch::Contains("1 trailing bytes"));
  // extraData's size field claiming more than TPM2B_DATA holds (it follows the 34-byte name).
  Bytes oversized = attest;
  oversized[6 + 2 + 34] = 0xff;
  CHECK(failure(parse_quote(oversized)) != "");

  Bytes ak = fixture("ak_ecc.pub");
  for (std::size_t length = 0; length < ak.size(); ++length) {
    INFO("AK prefix " << length);
    CHECK_FALSE(parse_public(std::span(ak).first(length)).has_value());
  }
  Bytes ak_trailing = ak;
  ak_trailing.push_back(0);
  CHECK_THAT(failure(parse_public(ak_trailing)), Catch::Contains("size field"));
  ak_trailing[1] = static_cast<std::uint8_t>(ak_trailing[1] + 1);  // outer size covers the byte
  CHECK_THAT(failure(parse_public(ak_trailing)), Catch::Contains("trailing"));
}

TEST_CASE("a quote of another type or magic parses and says so", "[tpm]") {
  Bytes attest = fixture("quote_rsa.msg");
  attest[0] = 0x00;  // magic
  auto quote = parse_quote(attest);
  REQUIRE(quote.has_value());
  CHECK(quote->magic == 0x00544347);
  // TPM_ST_ATTEST_CERTIFY has another body; the quote's bytes do not parse as one.
  attest = fixture("quote_rsa.msg");
  attest[5] = 0x17;
  CHECK_FALSE(parse_quote(attest).has_value());
}

TEST_CASE("only restricted TPM-resident signing keys are AKs", "[tpm]") {
  auto plain = parse_public(fixture("sign_key.pub"));
  REQUIRE(plain.has_value());
  CHECK_THAT(failure(parse_attestation_key(fixture("sign_key.pub"))),
             Catch::Contains("restricted must be set"));
  Bytes ak = fixture("ak_rsa.pub");
  CHECK_THAT(failure(parse_attestation_key(with_attributes(ak, TPMA_OBJECT_FIXEDTPM, 0))),
             Catch::Contains("fixedTPM must be set"));
  CHECK_THAT(
      failure(parse_attestation_key(with_attributes(ak, TPMA_OBJECT_SENSITIVEDATAORIGIN, 0))),
      Catch::Contains("sensitiveDataOrigin must be set"));
  CHECK_THAT(failure(parse_attestation_key(with_attributes(ak, 0, TPMA_OBJECT_DECRYPT))),
             Catch::Contains("decrypt must be clear"));
  CHECK_THAT(failure(parse_attestation_key(fixture("ek_rsa.pub"))),
             Catch::Contains("sign must be set"));
  // A changed attribute is another object: another name.
  auto changed = parse_public(with_attributes(ak, TPMA_OBJECT_USERWITHAUTH, 0));
  REQUIRE(changed.has_value());
  CHECK(changed->name != fixture("ak_rsa.name"));
}

TEST_CASE("EKs parse as restricted AES-128-CFB storage keys", "[tpm]") {
  for (std::string name : {"ek_rsa.pub", "ek_ecc.pub"}) {
    INFO(name);
    auto ek = parse_endorsement_key(fixture(name));
    REQUIRE(ek.has_value());
    CHECK(ek->name_alg == TPM2_ALG_SHA256);
    CHECK(ek->scheme == TPM2_ALG_NULL);
    CHECK(ek->name.size() == 34);
  }
  CHECK_THAT(failure(parse_endorsement_key(fixture("ak_rsa.pub"))),
             Catch::Contains("decrypt must be set"));
  CHECK_THAT(failure(parse_endorsement_key(
                 with_attributes(fixture("ek_rsa.pub"), TPMA_OBJECT_RESTRICTED, 0))),
             Catch::Contains("restricted must be set"));
}

TEST_CASE("make_credential output has the TPM's shapes and a fresh seed each time", "[tpm]") {
  auto rsa_ek = parse_endorsement_key(fixture("ek_rsa.pub"));
  auto ecc_ek = parse_endorsement_key(fixture("ek_ecc.pub"));
  REQUIRE((rsa_ek && ecc_ek));
  Bytes name = fixture("ak_rsa.name");
  Bytes secret(32, 0x42);
  auto first = make_credential(*rsa_ek, secret, name);
  auto second = make_credential(*rsa_ek, secret, name);
  REQUIRE((first && second));
  CHECK(first->encrypted_secret.size() == 2 + 256);  // one RSA-2048 OAEP block
  // TPM2B_ID_OBJECT: size, TPM2B_DIGEST(HMAC-SHA256), then the encrypted TPM2B_DIGEST(secret).
  CHECK(first->credential_blob.size() == 2 + (2 + 32) + (2 + 32));
  CHECK(first->credential_blob[3] == 32);
  CHECK(first->encrypted_secret != second->encrypted_secret);
  CHECK(first->credential_blob != second->credential_blob);

  auto ecc = make_credential(*ecc_ek, Bytes(16, 1), name);
  REQUIRE(ecc.has_value());
  CHECK(ecc->encrypted_secret.size() == 2 + (2 + 32) + (2 + 32));  // the ephemeral point
  CHECK(ecc->credential_blob.size() == 2 + (2 + 32) + (2 + 16));

  CHECK_THAT(failure(make_credential(*rsa_ek, Bytes(33, 1), name)), Catch::Contains("1 to 32"));
  CHECK_THAT(failure(make_credential(*rsa_ek, Bytes{}, name)), Catch::Contains("1 to 32"));
  CHECK_THAT(failure(make_credential(*rsa_ek, secret, Bytes(name.begin(), name.end() - 1))),
             Catch::Contains("AK name"));
}
