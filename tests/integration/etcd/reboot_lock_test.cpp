// The fleet lock on a real etcd: places given and refused, a dead holder's place freed by its
// TTL, the operator's unlock and max, and hosts racing for one place, checked against every
// revision of the semaphore in etcd's history.
#include "fleet/reboot_lock.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/etcd_server.hpp"
#include "support/require.hpp"

using namespace cairn;
using namespace cairn::fleet;
using cairn::testing::EtcdServer;
using cairn::testing::require;
using namespace std::chrono_literals;

namespace {

struct LockFixture {
  EtcdServer server = require(EtcdServer::start());
  EtcdClient etcd = require(EtcdClient::open(server.endpoint()));
  EtcdClient host_client = require(EtcdClient::open(server.endpoint()));
  std::unique_ptr<RebootLock> lock =
      etcd_reboot_lock(host_client, {.fleet = "lab", .ttl = 60s, .default_max = 1});

  Semaphore semaphore(const std::string& group = "rack-1") {
    auto kv = require(etcd.get(semaphore_key("lab", group)));
    REQUIRE(kv.has_value());
    return require(parse_semaphore(kv->value));
  }
};

LockRequest request(const std::string& id) {
  return {.id = id, .group = "rack-1", .version = "1.0.1"};
}

std::string id_of(char c) { return std::string(32, c); }

}  // namespace

TEST_CASE("a group's fleet lock gives its one place to one host at a time", "[etcd][lock]") {
  LockFixture f;
  auto first = require(f.lock->acquire(request(id_of('a'))));
  CHECK(first.granted);
  auto second = require(f.lock->acquire(request(id_of('b'))));
  CHECK_FALSE(second.granted);
  CHECK_THAT(second.message, Catch::Contains("is full") && Catch::Contains(id_of('a')) &&
                                 Catch::Contains("for 1.0.1"));
  // Asking again while holding keeps the place (a retried reboot, or the rollback's reboot).
  CHECK(require(f.lock->acquire(request(id_of('a')))).granted);
  Semaphore held = f.semaphore();
  REQUIRE(held.holders.size() == 1);
  CHECK(held.holders[0].id == id_of('a'));
  CHECK(held.holders[0].version == "1.0.1");

  require(f.lock->release(request(id_of('a'))));
  CHECK(f.semaphore().holders.empty());
  CHECK(require(f.etcd.get_prefix(holders_prefix("lab", "rack-1")))
            .empty());  // the place's lease key went with it
  CHECK(require(f.lock->acquire(request(id_of('b')))).granted);
  // Releasing what one does not hold is no error, and changes nothing.
  require(f.lock->release(request(id_of('a'))));
  CHECK(f.semaphore().holders.size() == 1);
}

TEST_CASE("groups have separate locks, and an operator sets a group's max", "[etcd][lock]") {
  LockFixture f;
  CHECK(require(f.lock->acquire(request(id_of('a')))).granted);
  CHECK(require(f.lock->acquire({.id = id_of('b'), .group = "rack-2"})).granted);
  CHECK_FALSE(require(f.lock->acquire(request(id_of('c')))).granted);

  require(set_semaphore_max(f.etcd, "lab", "rack-1", 2));
  CHECK(require(f.lock->acquire(request(id_of('c')))).granted);
  CHECK_FALSE(require(f.lock->acquire(request(id_of('d')))).granted);
  // A lowered max keeps the holders it has and gives no new place until they leave.
  require(set_semaphore_max(f.etcd, "lab", "rack-1", 1));
  CHECK(f.semaphore().holders.size() == 2);
  require(f.lock->release(request(id_of('a'))));
  CHECK_FALSE(require(f.lock->acquire(request(id_of('d')))).granted);
  require(f.lock->release(request(id_of('c'))));
  CHECK(require(f.lock->acquire(request(id_of('d')))).granted);

  auto locks = require(list_group_locks(f.etcd, "lab"));
  REQUIRE(locks.size() == 2);
  CHECK(locks[0].group == "rack-1");
  CHECK(locks[0].semaphore.max == 1);
  CHECK(locks[1].group == "rack-2");
  CHECK(locks[1].expired.empty());
  CHECK_FALSE(set_semaphore_max(f.etcd, "lab", "rack-1", 0));
}

TEST_CASE("a host that dies holding its place loses it after the lock's TTL", "[etcd][lock]") {
  LockFixture f;
  auto dying = etcd_reboot_lock(f.host_client, {.fleet = "lab", .ttl = 2s});
  CHECK(require(dying->acquire(request(id_of('a')))).granted);
  CHECK_FALSE(require(f.lock->acquire(request(id_of('b')))).granted);
  std::this_thread::sleep_for(3500ms);  // etcd expires leases on its own clock, about each 0.5 s
  auto listed = require(list_group_locks(f.etcd, "lab"));
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].expired == std::vector<std::string>{id_of('a')});
  CHECK(require(f.lock->acquire(request(id_of('b')))).granted);
  Semaphore now = f.semaphore();
  REQUIRE(now.holders.size() == 1);
  CHECK(now.holders[0].id == id_of('b'));
}

TEST_CASE("cairn-fleet unlock frees a host's place in every group", "[etcd][lock]") {
  LockFixture f;
  CHECK(require(f.lock->acquire(request(id_of('a')))).granted);
  CHECK(require(f.lock->acquire({.id = id_of('a'), .group = "rack-2"})).granted);
  auto freed = require(unlock_host(f.etcd, "lab", id_of('a')));
  CHECK(freed == std::vector<std::string>{"rack-1", "rack-2"});
  CHECK(require(f.lock->acquire(request(id_of('b')))).granted);
  CHECK(require(unlock_host(f.etcd, "lab", id_of('c'))).empty());
  CHECK_FALSE(unlock_host(f.etcd, "lab", "a/b"));
}

TEST_CASE("hosts racing for one place never hold it together, at any revision", "[etcd][lock]") {
  LockFixture f;
  constexpr int kHosts = 5, kRounds = 3;
  std::vector<std::thread> hosts;
  std::atomic<int> grants = 0, errors = 0;
  for (int h = 0; h < kHosts; ++h) {
    hosts.emplace_back([&, h] {
      auto client = EtcdClient::open(f.server.endpoint());
      if (!client) return void(++errors);
      auto lock = etcd_reboot_lock(*client, {.fleet = "lab", .ttl = 60s});
      LockRequest me = request(id_of(static_cast<char>('a' + h)));
      for (int round = 0; round < kRounds; ++round) {
        for (;;) {
          auto answer = lock->acquire(me);
          if (!answer) return void(++errors);
          if (answer->granted) break;
          std::this_thread::sleep_for(5ms);
        }
        ++grants;
        std::this_thread::sleep_for(20ms);  // "rebooting"
        if (!lock->release(me)) return void(++errors);
      }
    });
  }
  for (auto& host : hosts) host.join();
  REQUIRE(errors == 0);
  CHECK(grants == kHosts * kRounds);

  auto last = require(f.etcd.get(semaphore_key("lab", "rack-1")));
  REQUIRE(last.has_value());
  int held_once = 0;
  for (std::int64_t revision = last->create_revision; revision <= last->mod_revision; ++revision) {
    auto kv = require(f.etcd.get_at(semaphore_key("lab", "rack-1"), revision));
    REQUIRE(kv.has_value());
    auto semaphore = require(parse_semaphore(kv->value));
    INFO("revision " << revision << ": " << kv->value);
    CHECK(semaphore.holders.size() <= 1);
    held_once += kv->mod_revision == revision && semaphore.holders.size() == 1;
  }
  CHECK(held_once == kHosts * kRounds);  // each grant is one revision of the document
}

TEST_CASE("a fleet lock that cannot be read refuses rather than guesses", "[etcd][lock]") {
  LockFixture f;
  require(f.etcd.put(semaphore_key("lab", "rack-1"), R"({"max": 0, "holders": []})"));
  auto broken = f.lock->acquire(request(id_of('a')));
  REQUIRE_FALSE(broken);
  CHECK_THAT(broken.error().describe(),
             Catch::Contains("/cairn/lab/semaphores/rack-1") && Catch::Contains("max"));
  CHECK_FALSE(f.lock->acquire({.id = id_of('a'), .group = "rack/1"}));

  f.server.stop();
  auto unreachable = f.lock->acquire({.id = id_of('a'), .group = "rack-2"});
  REQUIRE_FALSE(unreachable);
  CHECK(unreachable.error().code() == Errc::unavailable);
}
