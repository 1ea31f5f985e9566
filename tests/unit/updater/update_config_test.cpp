#include "updater/update_config.hpp"

#include <catch2/catch.hpp>

#include "common/fs.hpp"

using namespace cairn;
using namespace cairn::updater;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

void put(const fs::path& root, const std::string& relative, const std::string& text) {
  fs::create_directories((root / relative).parent_path());
  REQUIRE(write_file_atomic(root / relative, text));
}

}  // namespace

TEST_CASE("durations take a unit or are seconds", "[update_config]") {
  CHECK(*parse_duration("90") == 90s);
  CHECK(*parse_duration("90s") == 90s);
  CHECK(*parse_duration("10min") == 600s);
  CHECK(*parse_duration("2h") == 7200s);
  CHECK(*parse_duration("1500ms") == 2s);  // rounded up: a window is never shorter than asked
  CHECK_FALSE(parse_duration("ten minutes"));
  CHECK_THAT(parse_duration("5 days").error().message(), Catch::Contains("unknown unit"));
}

TEST_CASE("no configuration gives the documented defaults", "[update_config]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-config-");
  REQUIRE(dir);
  auto config = load_update_config(dir->path());
  REQUIRE(config);
  CHECK(config->health.window == 600s);
  CHECK(config->health.interval == 30s);
  CHECK(config->health.libvirtd);
  CHECK(config->health.checks_dir == "/etc/cairn/health.d");
}

TEST_CASE("drop-ins apply in name order and a later directory replaces a same-named file",
          "[update_config]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-config-");
  REQUIRE(dir);
  put(dir->path(), "etc/cairn/update.toml", "[health]\nwindow = \"5min\"\ninterval = 10\n");
  put(dir->path(), "usr/lib/cairn/update.toml.d/10-image.toml",
      "[health]\nlibvirtd = false\nwindow = \"1h\"\n");
  put(dir->path(), "etc/cairn/update.toml.d/20-site.toml", "[health]\nwindow = \"20s\"\n");
  // Same name as the image's: replaces it, so libvirtd stays at its default.
  put(dir->path(), "run/cairn/update.toml.d/10-image.toml", "[health]\ninterval = \"2s\"\n");
  auto config = load_update_config(dir->path());
  REQUIRE(config);
  CHECK(config->health.window == 20s);
  CHECK(config->health.interval == 2s);
  CHECK(config->health.libvirtd);
}

TEST_CASE("a bad update.toml names the file, line and key", "[update_config]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-config-");
  REQUIRE(dir);
  SECTION("unknown key") {
    put(dir->path(), "etc/cairn/update.toml", "[health]\nwindw = \"5min\"\n");
    auto config = load_update_config(dir->path());
    REQUIRE_FALSE(config);
    CHECK_THAT(config.error().message(), Catch::Contains("update.toml:2: unknown key "
                                                         "'health.windw' (did you mean "
                                                         "'health.window'?)"));
  }
  SECTION("bad duration") {
    put(dir->path(), "etc/cairn/update.toml.d/x.toml", "[health]\n\ninterval = \"soon\"\n");
    auto config = load_update_config(dir->path());
    REQUIRE_FALSE(config);
    CHECK_THAT(config.error().message(),
               Catch::Contains("x.toml:3: 'health.interval': 'soon' is not a duration"));
  }
  SECTION("zero interval") {
    put(dir->path(), "etc/cairn/update.toml", "[health]\ninterval = 0\n");
    auto config = load_update_config(dir->path());
    REQUIRE_FALSE(config);
    CHECK_THAT(config.error().message(), Catch::Contains("'health.interval' must be > 0"));
  }
}

TEST_CASE("the fleet section names the channel, the store and the reboot policy",
          "[update_config]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-config-");
  REQUIRE(dir);
  auto defaults = load_update_config(dir->path());
  REQUIRE(defaults);
  CHECK_FALSE(defaults->fleet.enabled());
  CHECK(defaults->fleet.reboot == RebootPolicy::manual);

  put(dir->path(), "etc/cairn/update.toml",
      "[fleet]\nchannel = \"http://127.0.0.1:8080/channels/stable.json\"\n"
      "store = \"http://127.0.0.1:2379\"\nname = \"lab-1\"\ngroup = \"rack_7\"\n"
      "reboot = \"window 23:30-01:15\"\nstale_after = \"30min\"\n");
  auto config = load_update_config(dir->path());
  REQUIRE(config);
  const FleetConfig& fleet = config->fleet;
  CHECK(fleet.enabled());
  CHECK(fleet.store == "http://127.0.0.1:2379");
  CHECK(fleet.name == "lab-1");
  CHECK(fleet.group == "rack_7");
  CHECK(fleet.stale_after == 1800s);
  CHECK(fleet.reboot == RebootPolicy::window);
  // 23:30-01:15 crosses midnight.
  CHECK(fleet.in_window(23 * 60 + 30));
  CHECK(fleet.in_window(0));
  CHECK(fleet.in_window(75 - 1));
  CHECK_FALSE(fleet.in_window(75));
  CHECK_FALSE(fleet.in_window(12 * 60));
  CHECK_FALSE(fleet.in_window(23 * 60 + 29));
}

TEST_CASE("a bad fleet section is refused naming the key", "[update_config]") {
  auto refused = [](const std::string& body) {
    auto dir = TempDir::create(fs::temp_directory_path(), "cairn-config-");
    REQUIRE(dir);
    put(dir->path(), "etc/cairn/update.toml", "[fleet]\n" + body + "\n");
    auto config = load_update_config(dir->path());
    REQUIRE_FALSE(config);
    return config.error().message();
  };
  CHECK_THAT(refused("channel = \"ftp://x/channels/a.json\""), Catch::Contains("fleet.channel"));
  CHECK_THAT(refused("channel = \"file:///srv/channels/a.json\""),
             Catch::Contains("http:// or https://"));
  CHECK_THAT(refused("channel = \"http://x/channels/\""), Catch::Contains("channel index"));
  CHECK_THAT(refused("store = \"127.0.0.1:2379\""), Catch::Contains("fleet.store"));
  CHECK_THAT(refused("group = \"a/../b\""), Catch::Contains("fleet.group"));
  CHECK_THAT(refused("name = \"\""), Catch::Contains("fleet.name"));
  CHECK_THAT(refused("reboot = \"later\""), Catch::Contains("window HH:MM-HH:MM"));
  CHECK_THAT(refused("reboot = \"window 02:00-02:00\""), Catch::Contains("two different times"));
  CHECK_THAT(refused("reboot = \"window 25:00-02:00\""), Catch::Contains("reboot"));
  CHECK_THAT(refused("stale_after = \"1s\""), Catch::Contains("at least 10 s"));
  CHECK_THAT(refused("chanel = \"http://x/channels/a.json\""), Catch::Contains("channel"));
  CHECK_THAT(refused("lock = \"zookeeper\""), Catch::Contains("fleet.lock"));
  CHECK_THAT(refused("lock = \"fleetlock ftp://x\""), Catch::Contains("fleetlock <http(s) URL>"));
  CHECK_THAT(refused("lock_ttl = \"10s\""), Catch::Contains("at least 60 s"));
  CHECK_THAT(refused("migration_peers = [\"kvm-2\"]"), Catch::Contains("not a libvirt URI"));
  CHECK_THAT(refused("migration_peers = \"qemu+ssh://kvm-2/system\""),
             Catch::Contains("migration_peers"));
  CHECK_THAT(refused("migration_timeout = 0"), Catch::Contains("must be > 0"));
  CHECK_THAT(refused("evacuate = \"yes\""), Catch::Contains("fleet.evacuate"));
}

TEST_CASE("the fleet section names the lock and the evacuation before a reboot",
          "[update_config]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-config-");
  REQUIRE(dir);
  auto defaults = load_update_config(dir->path());
  REQUIRE(defaults);
  CHECK(defaults->fleet.effective_lock() == LockKind::none);  // no store, no lock
  CHECK(defaults->fleet.evacuate);
  CHECK(defaults->fleet.lock_ttl == 3600s);

  put(dir->path(), "etc/cairn/update.toml",
      "[fleet]\nchannel = \"http://127.0.0.1:8080/channels/stable.json\"\n"
      "store = \"http://127.0.0.1:2379\"\n");
  auto with_store = load_update_config(dir->path());
  REQUIRE(with_store);
  CHECK(with_store->fleet.effective_lock() == LockKind::etcd);

  put(dir->path(), "etc/cairn/update.toml.d/50-lock.toml",
      "[fleet]\nlock = \"fleetlock https://airlock.example:3333/\"\nlock_ttl = \"2h\"\n"
      "migration_peers = [\"qemu+ssh://kvm-2/system\", \"qemu+tls://kvm-3/system\"]\n"
      "migration_timeout = \"5min\"\nshutdown_domains = [\"scratch\"]\n"
      "hooks_dir = \"/srv/hooks\"\n");
  auto config = load_update_config(dir->path());
  REQUIRE(config);
  const FleetConfig& fleet = config->fleet;
  CHECK(fleet.effective_lock() == LockKind::fleetlock);
  CHECK(fleet.fleetlock_url == "https://airlock.example:3333/");
  CHECK(fleet.lock_ttl == 7200s);
  CHECK(fleet.migration_peers ==
        std::vector<std::string>{"qemu+ssh://kvm-2/system", "qemu+tls://kvm-3/system"});
  CHECK(fleet.migration_timeout == 300s);
  CHECK(fleet.shutdown_domains == std::vector<std::string>{"scratch"});
  CHECK(fleet.hooks_dir == "/srv/hooks");

  put(dir->path(), "run/cairn/update.toml.d/90-none.toml", "[fleet]\nlock = \"none\"\n");
  auto none = load_update_config(dir->path());
  REQUIRE(none);
  CHECK(none->fleet.effective_lock() == LockKind::none);
}

TEST_CASE("the cairn.update system credential is read last", "[update_config]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-config-");
  REQUIRE(dir);
  put(dir->path(), "run/cairn/update.toml.d/50-fleet.toml",
      "[fleet]\nchannel = \"http://a/channels/x.json\"\ngroup = \"from-run\"\n");
  put(dir->path(), "run/credentials/@system/cairn.update",
      "[fleet]\nchannel = \"http://10.0.2.100/channels/qemu.json\"\nreboot = \"now\"\n");
  auto config = load_update_config(dir->path());
  REQUIRE(config);
  CHECK(config->fleet.channel == "http://10.0.2.100/channels/qemu.json");
  CHECK(config->fleet.group == "from-run");  // keys it does not set stay as the drop-ins said
  CHECK(config->fleet.reboot == RebootPolicy::now);
  put(dir->path(), "run/credentials/@system/cairn.update", "[fleet]\nreboot = \"soon\"\n");
  auto bad = load_update_config(dir->path());
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message(), Catch::Contains("cairn.update"));
}
