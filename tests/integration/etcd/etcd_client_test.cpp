// EtcdClient against a real etcd (Debian's etcd-server, one member on loopback, one per test
// case so that cases run in parallel and share no keys).
#include "fleet/etcd_client.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "support/etcd_server.hpp"
#include "support/require.hpp"

using namespace cairn;
using namespace cairn::fleet;
using cairn::testing::EtcdServer;
using cairn::testing::require;
using namespace std::chrono_literals;

namespace {

EtcdClient client_of(const EtcdServer& server) {
  return require(EtcdClient::open(server.endpoint()));
}

// The key's entry, failing the test when the key is missing.
EtcdKeyValue existing(EtcdClient& etcd, std::string_view key) {
  auto kv = require(etcd.get(key));
  REQUIRE(kv.has_value());
  return *kv;
}

}  // namespace

TEST_CASE("etcd: put, get, get_prefix, remove and remove_prefix", "[etcd]") {
  auto server = require(EtcdServer::start());
  auto etcd = client_of(server);
  require(etcd.put("a/1", "one"));
  require(etcd.put("a/2", "two"));
  require(etcd.put("a/3", "three"));
  require(etcd.put("b/1", "other"));
  require(etcd.put("a", "not under a/"));

  auto one = require(etcd.get("a/1"));
  REQUIRE(one.has_value());
  CHECK(one->key == "a/1");
  CHECK(one->value == "one");
  CHECK(one->version == 1);
  CHECK(one->lease == 0);
  CHECK(one->create_revision == one->mod_revision);
  CHECK_FALSE(require(etcd.get("a/4")).has_value());

  require(etcd.put("a/1", "uno"));
  auto again = require(etcd.get("a/1"));
  REQUIRE(again.has_value());
  CHECK(again->value == "uno");
  CHECK(again->version == 2);
  CHECK(again->create_revision == one->create_revision);
  CHECK(again->mod_revision > one->mod_revision);

  auto listed = require(etcd.get_prefix("a/"));
  REQUIRE(listed.size() == 3);
  CHECK(listed[0].key == "a/1");
  CHECK(listed[1].key == "a/2");
  CHECK(listed[2].value == "three");

  CHECK(require(etcd.remove("a/2")) == 1);
  CHECK(require(etcd.remove("a/2")) == 0);
  CHECK(require(etcd.remove_prefix("a/")) == 2);
  CHECK(require(etcd.get_prefix("a/")).empty());
  CHECK(require(etcd.get("b/1")).has_value());
  CHECK(require(etcd.get("a")).has_value());
}

TEST_CASE("etcd: a prefix ending in 0xff bytes lists exactly its keys", "[etcd]") {
  auto server = require(EtcdServer::start());
  auto etcd = client_of(server);
  require(etcd.put("x\xff", "1"));
  require(etcd.put("x\xff\xff", "2"));
  require(etcd.put("x\xff\xff\x01", "3"));
  require(etcd.put("y", "not under x\\xff"));
  require(etcd.put("x\xfe", "not either"));
  auto listed = require(etcd.get_prefix("x\xff"));
  REQUIRE(listed.size() == 3);
  CHECK(listed[2].value == "3");
  CHECK(require(etcd.get_prefix("x\xff\xff")).size() == 2);
  CHECK(require(etcd.get_prefix("")).size() == 5);  // the empty prefix: every key
}

TEST_CASE("etcd: binary, UTF-8 and empty values come back as written", "[etcd]") {
  auto server = require(EtcdServer::start());
  auto etcd = client_of(server);
  std::string binary;
  for (int byte = 0; byte < 256; ++byte) binary.push_back(static_cast<char>(byte));
  const std::string utf8 = "Grüße aus Zürich, 東京, 🚀";
  require(etcd.put("bin", binary));
  require(etcd.put("hosts/kvm-ünïcode", utf8));
  require(etcd.put("empty", ""));
  CHECK(existing(etcd, "bin").value == binary);
  CHECK(existing(etcd, "hosts/kvm-ünïcode").value == utf8);
  auto empty = require(etcd.get("empty"));
  REQUIRE(empty.has_value());  // etcd leaves "value" out: still a key, with ""
  CHECK(empty->value.empty());
  CHECK(require(etcd.get_prefix("hosts/"))[0].key == "hosts/kvm-ünïcode");
}

TEST_CASE("etcd: put_if lets one of two writers win", "[etcd]") {
  auto server = require(EtcdServer::start());
  auto first = client_of(server);
  auto second = client_of(server);

  SECTION("an absent key: expected revision 0") {
    CHECK(require(first.put_if("lock", "first", 0)));
    CHECK_FALSE(require(second.put_if("lock", "second", 0)));
    CHECK(existing(first, "lock").value == "first");
  }
  SECTION("both read the same revision, the first to write wins") {
    require(first.put("doc", "v1"));
    auto read_by_first = existing(first, "doc");
    auto read_by_second = existing(second, "doc");
    REQUIRE(read_by_first.mod_revision == read_by_second.mod_revision);
    CHECK(require(second.put_if("doc", "second", read_by_second.mod_revision)));
    CHECK_FALSE(require(first.put_if("doc", "first", read_by_first.mod_revision)));
    auto now = existing(first, "doc");
    CHECK(now.value == "second");
    // Retrying on what is there now succeeds.
    CHECK(require(first.put_if("doc", "first", now.mod_revision)));
    CHECK(existing(second, "doc").value == "first");
    // An existing key is not "absent".
    CHECK_FALSE(require(second.put_if("doc", "clobber", 0)));
  }
}

TEST_CASE("etcd: remove_if deletes only what was read", "[etcd]") {
  auto server = require(EtcdServer::start());
  auto etcd = client_of(server);
  require(etcd.put("k", "v1"));
  auto read = existing(etcd, "k");
  require(etcd.put("k", "v2"));
  CHECK_FALSE(require(etcd.remove_if("k", read.mod_revision)));
  CHECK(existing(etcd, "k").value == "v2");
  CHECK(require(etcd.remove_if("k", existing(etcd, "k").mod_revision)));
  CHECK_FALSE(require(etcd.get("k")).has_value());
}

TEST_CASE("etcd: a revoked lease takes its keys along", "[etcd]") {
  auto server = require(EtcdServer::start());
  auto etcd = client_of(server);
  auto lease = require(etcd.grant_lease(30s));
  CHECK(lease != 0);
  require(etcd.put("alive/h1", "", lease));
  CHECK(require(etcd.put_if("alive/h2", "", 0, lease)));
  auto kv = require(etcd.get("alive/h1"));
  REQUIRE(kv.has_value());
  CHECK(kv->lease == lease);
  CHECK(existing(etcd, "alive/h2").lease == lease);
  require(etcd.revoke_lease(lease));
  CHECK(require(etcd.get_prefix("alive/")).empty());
  require(etcd.revoke_lease(lease));  // already gone: nothing left to do, no error
}

TEST_CASE("etcd: keep_alive renews a live lease in one request, reports 0 for a dead one",
          "[etcd]") {
  auto server = require(EtcdServer::start());
  auto etcd = client_of(server);
  auto lease = require(etcd.grant_lease(10s));
  unsigned before = etcd.requests_sent();
  CHECK(require(etcd.keep_alive(lease)) == 10s);
  CHECK(etcd.requests_sent() == before + 1);
  // The connection stays usable after the gateway's stream answer.
  require(etcd.put("after-keepalive", "x", lease));
  CHECK(existing(etcd, "after-keepalive").lease == lease);

  require(etcd.revoke_lease(lease));
  CHECK(require(etcd.keep_alive(lease)) == 0s);
  CHECK(require(etcd.keep_alive(0x1234567)) == 0s);  // never existed

  // etcd raises a TTL below its minimum (2 s with the default 1 s election timeout).
  auto short_lease = require(etcd.grant_lease(1s));
  CHECK(require(etcd.keep_alive(short_lease)) >= 2s);
}

TEST_CASE("etcd: errors carry etcd's own message and the operation", "[etcd]") {
  auto server = require(EtcdServer::start());
  auto etcd = client_of(server);
  auto written = etcd.put("k", "v", 0x7777);  // no such lease
  REQUIRE_FALSE(written.has_value());
  CHECK(written.error().code() == Errc::not_found);
  CHECK_THAT(written.error().describe(),
             Catch::Contains("writing 'k': etcd at " + server.endpoint()) &&
                 Catch::Contains("requested lease not found"));
  auto granted = etcd.grant_lease(std::chrono::seconds(99'999'999'999));
  REQUIRE_FALSE(granted.has_value());
  CHECK(granted.error().code() == Errc::invalid_input);
  CHECK_THAT(granted.error().describe(),
             Catch::Contains("granting a lease of 99999999999 s") &&
                 Catch::Contains("(HTTP 400): etcdserver: too large lease TTL"));
  auto nameless = etcd.get("");
  REQUIRE_FALSE(nameless.has_value());
  CHECK_THAT(nameless.error().describe(), Catch::Contains("key is not provided"));
}

TEST_CASE("etcd: an etcd that went away is reported unreachable", "[etcd]") {
  auto server = require(EtcdServer::start());
  auto etcd = require(EtcdClient::open(server.endpoint(), {.connect_timeout = 500ms}));
  require(etcd.put("k", "v"));
  server.stop();
  auto read = etcd.get("k");
  REQUIRE_FALSE(read.has_value());
  CHECK(read.error().code() == Errc::unavailable);
  CHECK_THAT(read.error().describe(),
             Catch::Contains("reading 'k': etcd at " + server.endpoint() + " unreachable: "));
}
