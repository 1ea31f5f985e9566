// What verifier replicas sharing one database rely on, on both backends: every change two
// replicas could race on is decided by the database, not by a check made before it.
#include <catch2/catch.hpp>
#include <thread>

#include "attest/verifier/store.hpp"
#include "unit/attest/soft_tpm.hpp"
#include "unit/attest/verifier/store_backend.hpp"

using namespace cairn;
using namespace cairn::attest::verifier;
using namespace cairn::attest::verifier::testing;

namespace {

HostRecord host_with_ek(std::string name, char ek) {
  return HostRecord{.name = std::move(name),
                    .ek_public = {1, 2, 3},
                    .ek_sha256 = std::string(64, ek),
                    .ak_public = {4, 5},
                    .ak_name = {0, 11, 6},
                    .enrolled_at = 1000};
}

}  // namespace

TEST_CASE("an EK is enrolled under one host name, by constraint", "[verifier][store]") {
  auto location = fresh_location();
  auto one = open_store(location);
  auto other = open_store(location);  // another replica
  REQUIRE(one.put_host(host_with_ek("a", 'a')));
  auto twin = other.put_host(host_with_ek("b", 'a'));
  REQUIRE_FALSE(twin);
  CHECK(twin.error().code() == Errc::permission);
  CHECK_THAT(twin.error().describe(), Catch::Contains("enrolled as host a"));
  CHECK_FALSE(one.find_host("b")->has_value());
  CHECK(one.find_host("a").value()->ek_sha256 == std::string(64, 'a'));
  // Re-enrolling the same host (a new AK) and moving it to another EK both still work.
  auto again = host_with_ek("a", 'a');
  again.ak_name = {0, 11, 7};
  REQUIRE(other.put_host(again));
  CHECK(one.find_host("a").value()->ak_name == Bytes{0, 11, 7});
  REQUIRE(other.put_host(host_with_ek("a", 'c')));
  REQUIRE(one.put_host(host_with_ek("b", 'a')));  // free again
}

TEST_CASE("two replicas enrolling one EK at the same time: exactly one wins", "[verifier][store]") {
  auto location = fresh_location();
  constexpr int kRounds = 20;
  std::vector<Store> replicas;
  for (int i = 0; i < 2; ++i) replicas.push_back(open_store(location));
  for (int round = 0; round < kRounds; ++round) {
    char ek = static_cast<char>('A' + round);
    std::array<bool, 2> won{};
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([&, i] {
        won[static_cast<std::size_t>(i)] =
            replicas[static_cast<std::size_t>(i)]
                .put_host(host_with_ek("r" + std::to_string(round) + "-" + std::to_string(i), ek))
                .has_value();
      });
    }
    for (auto& thread : threads) thread.join();
    INFO("round " << round);
    CHECK(won[0] != won[1]);
  }
  CHECK(replicas[0].list_hosts().value().size() == kRounds);
}

TEST_CASE("a nonce is claimed once, whichever replica claims it", "[verifier][store]") {
  auto location = fresh_location();
  auto one = open_store(location);
  auto other = open_store(location);
  Bytes nonce(32, 5);
  REQUIRE(one.add_nonce({.nonce = nonce, .host = "a", .issued_at = 1, .expires_at = 70}));
  auto seen = other.find_nonce(nonce).value();  // granted by one, found by the other
  REQUIRE(seen.has_value());
  CHECK(seen->host == "a");
  CHECK(other.claim_nonce(nonce).value());
  CHECK_FALSE(one.claim_nonce(nonce).value());
  CHECK_FALSE(other.claim_nonce(nonce).value());
  CHECK(one.find_nonce(nonce).value()->used);
  CHECK_FALSE(one.claim_nonce(Bytes(32, 6)).value());  // never granted
}

TEST_CASE("a pending enrollment is taken by one replica only", "[verifier][store]") {
  auto location = fresh_location();
  auto one = open_store(location);
  auto other = open_store(location);
  REQUIRE(one.add_pending({.id = "p1",
                           .host = "a",
                           .ek_public = {1},
                           .ak_public = {2},
                           .secret_sha256 = Bytes(32, 3),
                           .expires_at = 60}));
  auto taken = other.take_pending("p1").value();
  REQUIRE(taken.has_value());
  CHECK(taken->secret_sha256 == Bytes(32, 3));
  CHECK_FALSE(one.take_pending("p1").value().has_value());
}

TEST_CASE("a revocation made through one replica holds on the other at once", "[verifier][store]") {
  auto location = fresh_location();
  auto one = open_store(location);
  auto other = open_store(location);
  auto image = cairn::attest::testing::SoftImage::create("kvm-host", "1.0.0");
  auto version = make_image_version(image.golden(), ImageState::approved, 1).value();
  REQUIRE(one.add_image(version));
  REQUIRE(other.list_images().value().at(0).state == ImageState::approved);  // cached there
  REQUIRE(one.revoke_image("kvm-host", "1.0.0"));
  CHECK(other.list_images().value().at(0).state == ImageState::revoked);
  // Approving the same version on both at once is one approval, not an error.
  REQUIRE(other.add_image(
      make_image_version(image.next("1.0.1").golden(), ImageState::approved, 2).value()));
  REQUIRE(one.add_image(
      make_image_version(image.next("1.0.1").golden(), ImageState::approved, 2).value()));
}

TEST_CASE("the hosts admitted on a version, from the history", "[verifier][store]") {
  auto store = open_store(fresh_location());
  for (auto [name, ek] : {std::pair{"h1", 'a'}, {"h2", 'b'}, {"h3", 'c'}}) {
    REQUIRE(store.put_host(host_with_ek(name, ek)));
  }
  REQUIRE(store.record_admission("h1", "kvm-host", "2.0.0", 10));
  REQUIRE(store.record_admission("h1", "kvm-host", "2.0.0", 20));
  REQUIRE(
      store.record_verdict("h1", {.admitted = true, .image_version = "kvm-host 2.0.0", .at = 20}));
  REQUIRE(store.record_admission("h2", "kvm-host", "2.0.0", 15));  // then rolled back to 1.0.0
  REQUIRE(store.record_admission("h2", "kvm-host", "1.0.0", 30));
  REQUIRE(
      store.record_verdict("h2", {.admitted = true, .image_version = "kvm-host 1.0.0", .at = 30}));
  REQUIRE(store.record_admission("h3", "kvm-host", "1.0.0", 12));

  auto hosts = store.hosts_on_version("kvm-host", "2.0.0").value();
  REQUIRE(hosts.size() == 2);
  CHECK(hosts[0].host == "h1");
  CHECK(hosts[0].first_admitted_at == 10);
  CHECK(hosts[0].last_admitted_at == 20);
  CHECK(hosts[0].current);
  CHECK(hosts[1].host == "h2");
  CHECK_FALSE(hosts[1].current);
  // A denial since (a replay, a revocation) leaves h1 on 2.0.0.
  REQUIRE(store.record_verdict("h1", {.admitted = false, .at = 40}));
  CHECK(store.hosts_on_version("kvm-host", "2.0.0").value().at(0).current);
  CHECK(store.hosts_on_version("kvm-host", "9.9.9").value().empty());
  REQUIRE(store.remove_host("h1").value());
  CHECK(store.hosts_on_version("kvm-host", "2.0.0").value().size() == 1);  // its history went
}
