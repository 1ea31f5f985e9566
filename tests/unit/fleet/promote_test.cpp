// cairn-fleet promote's refusals on the attested evidence (the verifier's side is exercised
// against real replicas in tests/integration/verifier/replicas_test.cpp).
#include "fleet/promote.hpp"

#include <catch2/catch.hpp>

#include "support/free_port.hpp"
#include "support/require.hpp"
#include "unit/fleet/fake_fleet_store.hpp"

using namespace cairn;
using namespace cairn::fleet;

namespace {

// Three staging hosts committed 2.0.0: enough for the store's evidence alone.
fleet::testing::FakeFleetStore committed_store() {
  fleet::testing::FakeFleetStore store;
  for (int i = 0; i < 3; ++i) {
    std::string id = "m" + std::to_string(i);
    REQUIRE(store.put_host({.id = id, .channel = "staging", .hostname = "hv-" + id}));
    REQUIRE(store.put_outcome("2.0.0", {.host = id, .to_version = "2.0.0"}));
  }
  return store;
}

}  // namespace

TEST_CASE("promote --attested: no verifier named, no promotion", "[promote]") {
  auto store = committed_store();
  PromoteRequest request{
      .version = "2.0.0", .from_channel = "staging", .to_channel = "stable", .min_attested = 2};
  auto refused = promote_version(store, request);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == Errc::invalid_input);
  CHECK_THAT(refused.error().describe(), Catch::Contains("--attested needs --verifier URL"));
  CHECK(store.promotion_records.empty());
}

TEST_CASE("promote --attested: a verifier that cannot be asked refuses the promotion",
          "[promote]") {
  auto store = committed_store();
  auto port = cairn::testing::require(cairn::testing::free_loopback_port());
  PromoteRequest request{.version = "2.0.0",
                         .from_channel = "staging",
                         .to_channel = "stable",
                         .min_attested = 2,
                         .image = "kvm-host",
                         .verifier = {.url = "http://127.0.0.1:" + std::to_string(port)}};
  auto refused = promote_version(store, request);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == Errc::unavailable);
  CHECK(store.promotion_records.empty());
  // Forced: it goes on (here to the missing keys), the missing evidence in its summary.
  request.force = true;
  request.keys = "/nonexistent";
  auto forced = promote_version(store, request);
  REQUIRE_FALSE(forced);
  CHECK_THAT(forced.error().describe(), Catch::Contains("/nonexistent"));
}
