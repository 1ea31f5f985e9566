// The PostgreSQL backend's own failure modes, against a real PostgreSQL 15 (ctest entry
// verifier_store.postgresql, label integration): a server that cannot be reached, a replica
// migrating the schema, an outage in the middle of serving.
#include <catch2/catch.hpp>

#include "attest/verifier/postgres.hpp"
#include "attest/verifier/store.hpp"
#include "support/free_port.hpp"
#include "unit/attest/verifier/store_backend.hpp"

using namespace cairn;
using namespace cairn::attest::verifier;
using namespace cairn::attest::verifier::testing;

TEST_CASE("'?' parameters become $n outside quotes", "[verifier][postgresql]") {
  CHECK(sql::number_parameters("SELECT a FROM t WHERE b = ? AND c = ?") ==
        "SELECT a FROM t WHERE b = $1 AND c = $2");
  CHECK(sql::number_parameters("SELECT '?', \"?\" , ? FROM t WHERE x = 'it''s ?'") ==
        "SELECT '?', \"?\" , $1 FROM t WHERE x = 'it''s ?'");
}

TEST_CASE("a PostgreSQL that cannot be reached is one clear error, without the password",
          "[verifier][postgresql]") {
  auto port = cairn::testing::free_loopback_port().value();  // nothing listens there
  auto store = Store::open("postgresql://cairn:s3cret@127.0.0.1:" + std::to_string(port) +
                           "/fleet?connect_timeout=2");
  REQUIRE_FALSE(store);
  CHECK(store.error().code() == Errc::unavailable);
  auto message = store.error().describe();
  CHECK_THAT(message, Catch::Contains("cannot be reached"));
  CHECK_THAT(message, Catch::Contains("127.0.0.1:" + std::to_string(port)));
  CHECK_THAT(message, !Catch::Contains("s3cret"));
  CHECK(sql::redact_location("postgres://u:pw@h/db?password=pw2&sslmode=require") ==
        "postgres://u:***@h/db?password=***&sslmode=require");
}

TEST_CASE("a replica refuses to start while another migrates the schema",
          "[verifier][postgresql]") {
  auto location = shared_postgresql().create_database("migrating").value();
  REQUIRE(Store::open(location, 2).has_value());  // the previous release's database
  // Another replica in the middle of its migration: its transaction holds the lock.
  auto other = sql::Database::open(location).value();
  REQUIRE(other.execute("BEGIN"));
  REQUIRE(
      other.execute("SELECT pg_advisory_xact_lock(" + std::to_string(0x636169726e5f7631) + ")"));
  auto refused = Store::open(location);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == Errc::busy);
  CHECK_THAT(refused.error().describe(),
             Catch::Contains("another cairn-verifier is migrating this database's schema"));
  REQUIRE(other.execute("COMMIT"));  // its migration ended (here: without one)
  REQUIRE(Store::open(location).has_value());
  // Now current: replicas start without the lock, even while someone holds it.
  REQUIRE(other.execute("BEGIN"));
  REQUIRE(
      other.execute("SELECT pg_advisory_xact_lock(" + std::to_string(0x636169726e5f7631) + ")"));
  CHECK(Store::open(location).has_value());
  REQUIRE(other.execute("ROLLBACK"));
}

TEST_CASE("the store serves again after the database came back", "[verifier][postgresql]") {
  auto& server = shared_postgresql();
  auto location = server.create_database("outage").value();
  auto store = open_store(location);
  REQUIRE(store.add_nonce({.nonce = Bytes(32, 1), .host = "a", .expires_at = 70}));
  REQUIRE(server.stop());
  auto during = store.find_nonce(Bytes(32, 1));
  REQUIRE_FALSE(during);
  CHECK(during.error().code() == Errc::unavailable);
  REQUIRE(server.start_again());
  auto after = store.find_nonce(Bytes(32, 1));
  if (!after) FAIL(after.error().describe());
  CHECK(after->has_value());
}
