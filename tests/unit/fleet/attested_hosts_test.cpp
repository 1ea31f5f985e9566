#include "fleet/attested_hosts.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/free_port.hpp"
#include "support/require.hpp"

using namespace cairn;
using namespace cairn::fleet;
using cairn::testing::require;
using nlohmann::json;

namespace {

json answer() {
  return {
      {"name", "kvm-host"},
      {"version", "2.0.0"},
      {"state", "approved"},
      {"hosts",
       {{{"host", "hv-1"}, {"first_admitted_at", 10}, {"last_admitted_at", 20}, {"current", true}},
        {{"host", "hv-2"}, {"first_admitted_at", 11}, {"last_admitted_at", 11}, {"current", false}},
        {{"host", "hv-3"},
         {"first_admitted_at", 12},
         {"last_admitted_at", 30},
         {"current", true}}}}};
}

std::string refused(const json& text) {
  auto parsed = parse_attested_hosts(text.dump());
  REQUIRE_FALSE(parsed);
  CHECK(parsed.error().code() == Errc::invalid_input);
  return parsed.error().describe();
}

}  // namespace

TEST_CASE("attested hosts: the verifier's answer, the current ones kept", "[attested_hosts]") {
  auto attested = require(parse_attested_hosts(answer().dump()));
  CHECK(attested.state == "approved");
  CHECK(attested.current == std::set<std::string>{"hv-1", "hv-3"});
  auto none = answer();
  none["hosts"] = json::array();
  CHECK(require(parse_attested_hosts(none.dump())).current.empty());
}

TEST_CASE("attested hosts: an answer that is not the endpoint's is refused by name",
          "[attested_hosts]") {
  auto broken = answer();
  broken["state"] = "maybe";
  CHECK_THAT(refused(broken), Catch::Contains("'state' must be"));
  broken = answer();
  broken["hosts"][1].erase("current");
  CHECK_THAT(refused(broken), Catch::Contains("hosts[1]: 'current' is missing"));
  broken = answer();
  broken["hosts"][0]["admin"] = true;
  CHECK_THAT(refused(broken), Catch::Contains("unknown field 'admin'"));
  broken = answer();
  broken.erase("hosts");
  CHECK_THAT(refused(broken), Catch::Contains("'hosts' is missing"));
  CHECK_FALSE(parse_attested_hosts("[]"));
  CHECK_FALSE(parse_attested_hosts("<html>"));
}

TEST_CASE("attested hosts: only the source channel's hosts count, by host name",
          "[attested_hosts]") {
  auto attested = require(parse_attested_hosts(answer().dump()));
  std::vector<HostRecord> hosts{
      {.id = "m1", .channel = "staging", .hostname = "hv-1"},
      {.id = "m2", .channel = "staging", .hostname = "hv-2"},  // not current on it
      {.id = "m3", .channel = "stable", .hostname = "hv-3"},   // another channel
      {.id = "m4", .channel = "staging", .hostname = ""},      // an older cairn-update
      {.id = "m5", .channel = "staging", .hostname = "hv-5"},  // never attested on it
  };
  CHECK(attested_followers(hosts, "staging", attested) == std::vector<std::string>{"hv-1"});
  CHECK(attested_followers(hosts, "stable", attested) == std::vector<std::string>{"hv-3"});
}

TEST_CASE("attested hosts: names that are not plain are refused before asking",
          "[attested_hosts]") {
  for (auto [image, version] : {std::pair{"kvm-host", "../../v1/enroll"},
                                {"kvm host", "2.0"},
                                {"", "2.0"},
                                {"kvm-host", "2.0?x=1"}}) {
    auto fetched = fetch_attested_hosts({.url = "http://127.0.0.1:9"}, image, version);
    REQUIRE_FALSE(fetched);
    CHECK(fetched.error().code() == Errc::invalid_input);
  }
  auto port = require(cairn::testing::free_loopback_port());  // nothing listens there
  auto unreachable = fetch_attested_hosts({.url = "http://127.0.0.1:" + std::to_string(port)},
                                          "kvm-host", "2.0.0");
  REQUIRE_FALSE(unreachable);
  CHECK(unreachable.error().code() == Errc::unavailable);
  CHECK_THAT(unreachable.error().describe(), Catch::Contains("cannot be asked"));
}
