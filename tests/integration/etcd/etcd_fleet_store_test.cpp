// The fleet store on a real etcd: the key layout, leases that make dead hosts stale, and what
// each call costs in requests (a poll pays them on every host).
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "etcd/fake_http_server.hpp"
#include "fleet/fleet_store.hpp"
#include "support/etcd_server.hpp"
#include "support/require.hpp"

using namespace cairn;
using namespace cairn::fleet;
using cairn::testing::EtcdServer;
using cairn::testing::FakeHttpServer;
using cairn::testing::forward_to;
using cairn::testing::require;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

EtcdClient client_of(const EtcdServer& server) {
  return require(EtcdClient::open(server.endpoint()));
}

// A store and, beside it, a client on the same etcd to look at (and tamper with) its keys.
struct Fixture {
  EtcdServer server = require(EtcdServer::start());
  EtcdClient etcd = client_of(server);
  std::unique_ptr<FleetStore> store = etcd_fleet_store(client_of(server), "lab");
};

HostRecord host(const std::string& id) {
  return {.id = id,
          .group = "rack-1",
          .channel = "stable",
          .machine_class = "x86_64-kvm",
          .version = "1.0.0",
          .phase = "idle",
          .target = "",
          .message = "up to date",
          .updated = "2026-12-03T21:00:00Z"};
}

OutcomeRecord outcome(const std::string& host, const std::string& to, OutcomeKind kind) {
  return {.host = host,
          .group = "rack-1",
          .from_version = "1.0.0",
          .to_version = to,
          .outcome = kind,
          .reason = kind == OutcomeKind::committed ? "healthy for 300 s" : "check failed",
          .steps = {{"write", 41.5}, {"verify", 3.25}},
          .window_seconds = 300,
          .checks = {{"attestation", true, "verified"}},
          .at = "2026-12-03T21:10:00Z"};
}

// The key's entry, failing the test when the key is missing.
EtcdKeyValue existing(EtcdClient& etcd, std::string_view key) {
  auto kv = require(etcd.get(key));
  REQUIRE(kv.has_value());
  return *kv;
}

}  // namespace

TEST_CASE("fleet store: keep_alive grants a lease once, then renews it", "[etcd]") {
  Fixture f;
  auto lease = require(f.store->keep_alive("h1", 0, 30s));
  CHECK(lease != 0);
  auto alive = require(f.etcd.get("/cairn/lab/alive/h1"));
  REQUIRE(alive.has_value());
  CHECK(alive->lease == lease);
  CHECK(alive->value.empty());

  CHECK(require(f.store->keep_alive("h1", lease, 30s)) == lease);

  // The lease dies (etcd lost it, the host slept past it): the next call starts a new one.
  require(f.etcd.revoke_lease(lease));
  CHECK_FALSE(require(f.etcd.get("/cairn/lab/alive/h1")).has_value());
  auto renewed = require(f.store->keep_alive("h1", lease, 30s));
  CHECK(renewed != lease);
  CHECK(existing(f.etcd, "/cairn/lab/alive/h1").lease == renewed);
}

TEST_CASE("fleet store: what each call sends, counted at a proxy in front of etcd", "[etcd]") {
  Fixture f;
  std::mutex mutex;
  std::vector<std::string> paths;
  FakeHttpServer proxy([&, forward = forward_to(f.server.endpoint())](const std::string& path,
                                                                      const std::string& body) {
    std::lock_guard lock(mutex);
    paths.push_back(path);
    return forward(path, body);
  });
  auto sent = [&] {
    std::lock_guard lock(mutex);
    return std::exchange(paths, {});
  };
  using Paths = std::vector<std::string>;
  auto store = etcd_fleet_store(require(EtcdClient::open(proxy.endpoint())), "lab");

  auto lease = require(store->keep_alive("h1", 0, 30s));
  CHECK(sent() == Paths{"/v3/lease/grant", "/v3/kv/put"});
  CHECK(require(store->keep_alive("h1", lease, 30s)) == lease);
  CHECK(sent() == Paths{"/v3/lease/keepalive"});
  require(store->put_host(host("h1")));
  CHECK(sent() == Paths{"/v3/kv/put"});
  CHECK(require(store->hosts()).size() == 1);
  CHECK(sent() == Paths{"/v3/kv/range", "/v3/kv/range"});
  require(store->put_outcome("1.1.0", outcome("h1", "1.1.0", OutcomeKind::committed)));
  CHECK(require(store->outcomes("1.1.0")).size() == 1);
  require(store->put_control("1.1.0", {.state = ControlState::paused}));
  CHECK(require(store->controls()).size() == 1);
  CHECK(require(store->clear_control("1.1.0")));
  CHECK(sent() ==
        Paths{"/v3/kv/put", "/v3/kv/range", "/v3/kv/put", "/v3/kv/range", "/v3/kv/deleterange"});
  require(f.etcd.revoke_lease(lease));
  CHECK(require(store->keep_alive("h1", lease, 30s)) != lease);
  CHECK(sent() == Paths{"/v3/lease/keepalive", "/v3/lease/grant", "/v3/kv/put"});
  CHECK(proxy.connections() == 1);  // the store's client kept its connection throughout
}

TEST_CASE("fleet store: hosts() marks a host stale once its lease expires", "[etcd]") {
  Fixture f;
  require(f.store->put_host(host("h1")));
  require(f.store->put_host(host("h2")));
  // 2 s: etcd's smallest TTL (1.5 × its 1 s election timeout, rounded up).
  auto lease = require(f.store->keep_alive("h1", 0, 2s));
  require(f.store->keep_alive("h2", 0, 60s));

  auto hosts = require(f.store->hosts());
  REQUIRE(hosts.size() == 2);
  CHECK(hosts[0] == host("h1"));
  CHECK(hosts[0].alive);
  CHECK(hosts[1].alive);

  auto start = Clock::now();
  while (require(f.etcd.get("/cairn/lab/alive/h1")).has_value() && Clock::now() - start < 8s) {
    std::this_thread::sleep_for(100ms);
  }
  auto waited = Clock::now() - start;
  CHECK(waited >= 1s);
  CHECK(waited < 8s);
  hosts = require(f.store->hosts());
  REQUIRE(hosts.size() == 2);
  CHECK(hosts[0].id == "h1");
  CHECK_FALSE(hosts[0].alive);  // the record stays, stale
  CHECK(hosts[1].alive);
  CHECK(require(f.etcd.keep_alive(lease)) == 0s);
}

TEST_CASE("fleet store: outcomes are kept per version", "[etcd]") {
  Fixture f;
  require(f.store->put_outcome("1.1.0", outcome("h2", "1.1.0", OutcomeKind::rolled_back)));
  require(f.store->put_outcome("1.1.0", outcome("h1", "1.1.0", OutcomeKind::committed)));
  require(f.store->put_outcome("1.1.0.1", outcome("h1", "1.1.0.1", OutcomeKind::committed)));
  require(f.store->put_outcome("1.1", outcome("h3", "1.1", OutcomeKind::committed)));

  auto outcomes = require(f.store->outcomes("1.1.0"));
  REQUIRE(outcomes.size() == 2);
  CHECK(outcomes[0] == outcome("h1", "1.1.0", OutcomeKind::committed));
  CHECK(outcomes[1] == outcome("h2", "1.1.0", OutcomeKind::rolled_back));
  CHECK(require(f.store->outcomes("1.1")).size() == 1);
  CHECK(require(f.store->outcomes("2.0")).empty());
  // A host reporting again replaces its outcome.
  require(f.store->put_outcome("1.1.0", outcome("h2", "1.1.0", OutcomeKind::committed)));
  CHECK(require(f.store->outcomes("1.1.0"))[1].outcome == OutcomeKind::committed);
  CHECK(require(f.etcd.get("/cairn/lab/outcomes/1.1.0/h2")).has_value());
}

TEST_CASE("fleet store: controls are put and cleared per version", "[etcd]") {
  Fixture f;
  CHECK(require(f.store->controls()).empty());
  VersionControl halted{.state = ControlState::halted,
                        .by = "h2",
                        .reason = "3 failures reach max_failures 3",
                        .at = "2026-12-03T21:20:00Z"};
  VersionControl paused{.state = ControlState::paused, .by = "alice", .reason = "", .at = "x"};
  require(f.store->put_control("1.1.0", halted));
  require(f.store->put_control("1.2.0", paused));
  auto controls = require(f.store->controls());
  REQUIRE(controls.size() == 2);
  CHECK(controls.at("1.1.0") == halted);
  CHECK(controls.at("1.2.0") == paused);
  CHECK(require(f.store->clear_control("1.1.0")));
  CHECK_FALSE(require(f.store->clear_control("1.1.0")));
  CHECK(require(f.store->controls()).size() == 1);
}

TEST_CASE("fleet store: fleets sharing one etcd do not see each other", "[etcd]") {
  Fixture f;
  auto other = etcd_fleet_store(client_of(f.server), "lab2");
  require(f.store->put_host(host("h1")));
  require(other->put_host(host("h9")));
  require(other->put_control("1.0.0", {.state = ControlState::pulled}));
  CHECK(require(f.store->hosts()).size() == 1);
  CHECK(require(other->hosts())[0].id == "h9");
  CHECK(require(f.store->controls()).empty());
}

TEST_CASE("fleet store: a record that does not parse fails the listing, naming its key", "[etcd]") {
  Fixture f;
  require(f.store->put_host(host("h1")));
  SECTION("garbage") { require(f.etcd.put("/cairn/lab/hosts/h2", "{not json")); }
  SECTION("a field too many") {
    require(f.etcd.put("/cairn/lab/hosts/h2", R"({"id":"h2","alive":true})"));
  }
  SECTION("a record under another host's key") {
    require(f.etcd.put("/cairn/lab/hosts/h2", host_record_json(host("h3"))));
  }
  auto hosts = f.store->hosts();
  REQUIRE_FALSE(hosts.has_value());
  CHECK(hosts.error().code() == Errc::invalid_input);
  CHECK_THAT(hosts.error().describe(),
             Catch::StartsWith("reading /cairn/lab/hosts/h2 from " + f.server.endpoint()));
}

TEST_CASE("fleet store: names that would break the key layout are refused before etcd", "[etcd]") {
  Fixture f;
  CHECK_FALSE(f.store->put_host(host("a/b")).has_value());
  CHECK_FALSE(f.store->put_host(host("")).has_value());
  CHECK_FALSE(f.store->keep_alive("x/../y", 0, 10s).has_value());
  CHECK_FALSE(f.store->outcomes("1.0/h1").has_value());
  CHECK_FALSE(
      f.store->put_outcome("1.0", outcome("h/1", "1.0", OutcomeKind::committed)).has_value());
  auto bad_fleet = etcd_fleet_store(client_of(f.server), "a/b");
  auto listed = bad_fleet->hosts();
  REQUIRE_FALSE(listed.has_value());
  CHECK_THAT(listed.error().describe(), Catch::Contains("fleet name 'a/b'"));
  // A record its own reader would refuse is not written either.
  HostRecord no_phase = host("h1");
  no_phase.phase = "";
  auto written = f.store->put_host(no_phase);
  REQUIRE_FALSE(written.has_value());
  CHECK_THAT(written.error().describe(), Catch::Contains("'phase' must not be empty"));
  CHECK(require(f.etcd.get_prefix("/cairn/")).empty());
}
