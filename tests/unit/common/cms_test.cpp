// CmsVerifier remembers the last signature that held; these tests prove the memory never
// answers for anything it did not verify: other data, other bytes, another time.
#include "common/cms.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "unit/common/bundle_pki.hpp"

using namespace cairn;
using namespace std::chrono_literals;

namespace {

std::string flip_last_byte(std::string bytes) {
  bytes.back() = static_cast<char>(bytes.back() ^ 0x01);
  return bytes;
}

}  // namespace

TEST_CASE("a remembered signature still covers only the data it was made over", "[cms]") {
  testing::BundlePki pki;
  auto verifier = pki.verifier();
  auto signature = pki.signer().sign("index serial 1").value();
  REQUIRE(verifier.verify("index serial 1", signature).has_value());
  auto other = verifier.verify("index serial 2", signature);
  REQUIRE_FALSE(other.has_value());
  CHECK(other.error().code() == Errc::integrity);
  // And the failure did not displace what held before.
  CHECK(verifier.verify("index serial 1", signature).has_value());
}

TEST_CASE("a remembered signature is not taken for different signature bytes", "[cms]") {
  testing::BundlePki pki;
  auto verifier = pki.verifier();
  auto signature = pki.signer().sign("index").value();
  REQUIRE(verifier.verify("index", signature).has_value());
  CHECK_FALSE(verifier.verify("index", flip_last_byte(signature)).has_value());
  CHECK_FALSE(verifier.verify("index", signature.substr(0, signature.size() / 2)).has_value());
  CHECK(verifier.verify("index", signature).has_value());
}

TEST_CASE("a remembered signature fails once its certificates expire", "[cms]") {
  testing::BundlePki pki;  // certificates valid from an hour ago for a day
  auto verifier = pki.verifier();
  auto signature = pki.signer().sign("index").value();
  auto identity = verifier.verify("index", signature);
  REQUIRE(identity.has_value());
  CHECK(identity->subject == "/CN=Test signing");

  // Each time asked right after the signature held, so only the remembered window can say no.
  verifier.set_time(std::chrono::system_clock::now() - 2h);
  auto early = verifier.verify("index", signature);
  REQUIRE_FALSE(early.has_value());
  CHECK_THAT(early.error().describe(), Catch::Contains("not valid yet"));

  verifier.set_time(std::chrono::system_clock::now());
  REQUIRE(verifier.verify("index", signature).has_value());
  verifier.set_time(std::chrono::system_clock::now() + 48h);
  auto expired = verifier.verify("index", signature);
  REQUIRE_FALSE(expired.has_value());
  CHECK(expired.error().code() == Errc::crypto);
  CHECK_THAT(expired.error().describe(), Catch::Contains("expired"));

  verifier.set_time(std::chrono::system_clock::now());
  CHECK(verifier.verify("index", signature).has_value());
}

TEST_CASE("a signature from outside the trust store fails after one that held", "[cms]") {
  testing::BundlePki trusted;
  testing::BundlePki stranger;  // the same names, another CA: only the keys differ
  auto verifier = trusted.verifier();
  auto good = trusted.signer().sign("index").value();
  auto foreign = stranger.signer().sign("index").value();
  REQUIRE(verifier.verify("index", good).has_value());
  auto refused = verifier.verify("index", foreign);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code() == Errc::crypto);
}
