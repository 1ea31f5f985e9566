// The FleetLock client against a FleetLock responder (tests/integration/fleetlock_responder.py)
// that keeps its semaphore in the same etcd as the direct lock: a site may run airlock for some
// hosts while others lock in etcd, and the two must share one semaphore per group.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "common/fs.hpp"
#include "fleet/reboot_lock.hpp"
#include "support/background_process.hpp"
#include "support/etcd_server.hpp"
#include "support/require.hpp"

using namespace cairn;
using namespace cairn::fleet;
using cairn::testing::BackgroundProcess;
using cairn::testing::EtcdServer;
using cairn::testing::require;
using namespace std::chrono_literals;

namespace {

struct Responder {
  TempDir dir;
  BackgroundProcess process;
  std::string url;

  static Responder start(const std::string& etcd) {
    TempDir dir = require(TempDir::create(std::filesystem::temp_directory_path(), "fleetlock"));
    auto port_file = dir.path() / "port";
    auto process = require(BackgroundProcess::start(
        {"python3", CAIRN_FLEETLOCK_RESPONDER, etcd, port_file.string(), "--fleet", "lab"},
        dir.path() / "responder.log"));
    for (int i = 0; i < 200 && !std::filesystem::exists(port_file); ++i) {
      std::this_thread::sleep_for(50ms);
    }
    std::string port = require(read_file(port_file));
    return Responder{std::move(dir), std::move(process), "http://127.0.0.1:" + port};
  }
};

std::string id_of(char c) { return std::string(32, c); }

}  // namespace

TEST_CASE("the FleetLock client shares its group's semaphore with the etcd lock",
          "[etcd][lock][fleetlock]") {
  EtcdServer server = require(EtcdServer::start());
  Responder responder = Responder::start(server.endpoint());
  auto fleetlock = require(fleetlock_reboot_lock({.base_url = responder.url + "/"}));
  EtcdClient etcd = require(EtcdClient::open(server.endpoint()));
  auto direct = etcd_reboot_lock(etcd, {.fleet = "lab"});

  LockRequest a{.id = id_of('a'), .group = "rack-1", .version = "1.0.1"};
  LockRequest b{.id = id_of('b'), .group = "rack-1", .version = "1.0.1"};
  auto granted = require(fleetlock->acquire(a));
  CHECK(granted.granted);
  CHECK_THAT(granted.message, Catch::Contains(responder.url));
  CHECK(require(fleetlock->acquire(a)).granted);  // idempotent, as the protocol asks

  auto refused_direct = require(direct->acquire(b));
  CHECK_FALSE(refused_direct.granted);
  CHECK_THAT(refused_direct.message, Catch::Contains(id_of('a')));
  auto refused = require(fleetlock->acquire(b));
  CHECK_FALSE(refused.granted);
  CHECK_THAT(refused.message, Catch::Contains("HTTP 409") && Catch::Contains("failed_lock") &&
                                  Catch::Contains(id_of('a')));

  require(fleetlock->release(a));
  CHECK(require(direct->acquire(b)).granted);
  CHECK_FALSE(require(fleetlock->acquire(a)).granted);
  require(direct->release(b));
  CHECK(require(fleetlock->acquire(a)).granted);
}

TEST_CASE("a FleetLock server that cannot be reached is an error, not a grant",
          "[etcd][lock][fleetlock]") {
  EtcdServer server = require(EtcdServer::start());
  Responder responder = Responder::start(server.endpoint());
  auto fleetlock = require(fleetlock_reboot_lock({.base_url = responder.url, .timeout = 3s}));
  LockRequest a{.id = id_of('a'), .group = "rack-1"};
  // The responder answers, but its etcd is gone: a 500, which refuses.
  server.stop();
  auto broken = require(fleetlock->acquire(a));
  CHECK_FALSE(broken.granted);
  responder.process.stop();
  auto unreachable = fleetlock->acquire(a);
  REQUIRE_FALSE(unreachable);
  CHECK(unreachable.error().code() == Errc::unavailable);
  CHECK_THAT(unreachable.error().message(), Catch::Contains("unreachable"));
  CHECK_FALSE(fleetlock->release(a));
  CHECK(fleetlock_reboot_lock({.base_url = "ftp://127.0.0.1/"}).error().code() ==
        Errc::invalid_input);
}
