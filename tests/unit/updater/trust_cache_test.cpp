#include "updater/trust_cache.hpp"

#include <catch2/catch.hpp>
#include <filesystem>

#include "unit/common/bundle_pki.hpp"

using namespace cairn;
using namespace cairn::updater;

TEST_CASE("the trust cache keeps one verifier while the store is unchanged", "[trust-cache]") {
  testing::BundlePki pki;
  TrustCache cache;
  auto first = cache.get(pki.trust());
  REQUIRE(first.has_value());
  auto again = cache.get(pki.trust());
  REQUIRE(again.has_value());
  CHECK(*first == *again);
  CHECK((*again)->verify("index", pki.signer().sign("index").value()).has_value());
}

TEST_CASE("the trust cache loads the store again when an anchor is replaced", "[trust-cache]") {
  testing::BundlePki old_pki;
  testing::BundlePki new_pki;
  auto old_signature = old_pki.signer().sign("index").value();
  auto new_signature = new_pki.signer().sign("index").value();
  TrustCache cache;
  REQUIRE(cache.get(old_pki.trust()).value()->verify("index", old_signature).has_value());

  // The operator rotates the CA: the same file name, other contents.
  std::filesystem::copy_file(new_pki.trust() / "ca.crt", old_pki.trust() / "ca.crt",
                             std::filesystem::copy_options::overwrite_existing);
  auto rotated = cache.get(old_pki.trust());
  REQUIRE(rotated.has_value());
  CHECK_FALSE((*rotated)->verify("index", old_signature).has_value());
  CHECK((*rotated)->verify("index", new_signature).has_value());
}

TEST_CASE("the trust cache sees an anchor added beside the others", "[trust-cache]") {
  testing::BundlePki pki;
  testing::BundlePki added;
  auto signature = added.signer().sign("index").value();
  TrustCache cache;
  REQUIRE_FALSE(cache.get(pki.trust()).value()->verify("index", signature).has_value());
  std::filesystem::copy_file(added.trust() / "ca.crt", pki.trust() / "second.crt");
  CHECK(cache.get(pki.trust()).value()->verify("index", signature).has_value());
}

TEST_CASE("the trust cache fails clearly for a store that is gone", "[trust-cache]") {
  testing::BundlePki pki;
  TrustCache cache;
  REQUIRE(cache.get(pki.trust()).has_value());
  std::filesystem::remove_all(pki.trust());
  auto gone = cache.get(pki.trust());
  REQUIRE_FALSE(gone.has_value());
  CHECK_THAT(gone.error().describe(), Catch::Contains(pki.trust().string()));
}
