#include "updater/boot_assessment.hpp"

#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "unit/updater/fakes.hpp"

using namespace cairn;
using namespace cairn::updater;
using namespace cairn::updater::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// One host: 1.0.0 in slot A, 1.0.1 installed into slot B during boot "boot-1".
struct Host {
  Host() : dir(*TempDir::create(fs::temp_directory_path(), "cairn-assess-")) {
    HostState state{.security_floor = 1,
                    .pending = PendingSlot{.slot = 'B',
                                           .version = "1.0.1",
                                           .security_version = 2,
                                           .install_boot_id = "boot-1"},
                    .phase = Phase::installed};
    REQUIRE(save_state(dir.path(), state));
    History history;
    history.add(
        {.version = "1.0.1", .from_version = "1.0.0", .slot = 'B', .outcome = Outcome::installed});
    REQUIRE(history.save(dir.path()));
  }

  Expected<BootAssessment> boot(char slot, std::string boot_id) {
    BootContext context{.state_dir = dir.path(),
                        .layout = SlotsHolding("1.0.0", "1.0.1"),
                        .booted = slot,
                        .boot_id = std::move(boot_id)};
    checks.clear();
    checks.push_back(std::make_unique<ScriptedCheck>("failed-units", true,
                                                     [this](unsigned) { return units_ok; }));
    checks.push_back(
        std::make_unique<ScriptedCheck>("required.d/guest-net", true, [this](unsigned round) {
          if (round == 1 && checks_hook) checks_hook();
          return round < fail_at_round;
        }));
    return assess_boot(context, {.window = 120s, .interval = 30s},
                       {.esp = esp, .manager = manager, .clock = clock, .checks = checks});
  }

  HostState state() { return *load_state(dir.path()); }
  UpdateRecord last_record() { return History::load(dir.path())->records().back(); }

  TempDir dir;
  FakeEsp esp{{"cairn_1.0.0.efi", "cairn_1.0.1+2-1.efi"}};
  FakeServiceManager manager;
  FakeClock clock;
  std::vector<std::unique_ptr<HealthCheck>> checks;
  bool units_ok = true;
  std::function<void()> checks_hook;  // runs during the first round
  unsigned fail_at_round = 1000;
};

}  // namespace

TEST_CASE("a pending update that passes its window is committed", "[assess]") {
  Host host;
  auto assessed = host.boot('B', "boot-2");
  REQUIRE(assessed);
  CHECK(assessed->verdict == BootVerdict::committed);
  CHECK(assessed->report.rounds == 5);  // 0, 30, 60, 90, 120 s
  CHECK(host.state().security_floor == 2);
  CHECK_FALSE(host.state().pending);
  auto record = host.last_record();
  CHECK(record.outcome == Outcome::committed);
  REQUIRE(record.checks.size() == 2);
  CHECK(record.events.back().what == "observation window passed (5 rounds in 120 s): committed");
  // Entries are systemd-bless-boot's business after boot-complete: untouched here.
  CHECK(host.esp.names_ == std::vector<std::string>{"cairn_1.0.0.efi", "cairn_1.0.1+2-1.efi"});
  CHECK(host.manager.reboots == 0);
}

TEST_CASE("a failed required check marks the update bad, records why and reboots", "[assess]") {
  Host host;
  host.fail_at_round = 3;
  auto assessed = host.boot('B', "boot-2");
  REQUIRE(assessed);
  CHECK(assessed->verdict == BootVerdict::failed);
  CHECK(host.clock.slept == 60s);  // within the window, not after it
  CHECK(host.manager.reboots == 1);
  // No tries left: systemd-boot sorts it last and starts 1.0.0.
  CHECK(host.esp.names_ == std::vector<std::string>{"cairn_1.0.0.efi", "cairn_1.0.1+0-0.efi"});
  auto state = host.state();
  REQUIRE(state.pending);
  CHECK(state.pending->failure == "health check required.d/guest-net: broken in round 3");
  CHECK(state.security_floor == 1);  // never raised by a failed update
  CHECK(host.last_record().outcome == Outcome::failed);

  SECTION("the old version then records the rollback and stays") {
    auto back = host.boot('A', "boot-3");
    REQUIRE(back);
    CHECK(back->verdict == BootVerdict::healthy);
    REQUIRE(back->rolled_back);
    CHECK(back->rolled_back->reason == "health check required.d/guest-net: broken in round 3");
    CHECK_FALSE(host.state().pending);
    auto record = host.last_record();
    CHECK(record.outcome == Outcome::rolled_back);
    CHECK_THAT(record.events.back().what, Catch::StartsWith("back on 1.0.0 in slot A"));
    CHECK(host.manager.reboots == 1);  // no second reboot
    CHECK(back->report.rounds == 1);   // nothing under observation any more
  }
}

TEST_CASE("an update that never came up is found by the old version on its next boot", "[assess]") {
  Host host;
  host.esp.names_ = {"cairn_1.0.0.efi", "cairn_1.0.1+0-3.efi"};  // three panics
  auto assessed = host.boot('A', "boot-5");
  REQUIRE(assessed);
  REQUIRE(assessed->rolled_back);
  CHECK(assessed->rolled_back->reason ==
        "did not complete a boot: its boot tries were used up (cairn_1.0.1+0-3.efi)");
  CHECK(host.esp.names_ == std::vector<std::string>{"cairn_1.0.0.efi", "cairn_1.0.1+0-3.efi"});
  CHECK_FALSE(host.state().pending);
  CHECK(host.last_record().outcome == Outcome::rolled_back);
  CHECK(host.state().security_floor == 1);
}

TEST_CASE("an update installed during this boot is not mistaken for a failed one", "[assess]") {
  Host host;
  auto assessed = host.boot('A', "boot-1");
  REQUIRE(assessed);
  CHECK_FALSE(assessed->rolled_back);
  CHECK(assessed->verdict == BootVerdict::healthy);
  CHECK(host.state().pending);
  CHECK(host.last_record().outcome == Outcome::installed);
}

TEST_CASE("with nothing pending one round decides, and a failure reboots nothing", "[assess]") {
  Host host;
  REQUIRE(save_state(host.dir.path(), HostState{.security_floor = 2}));
  host.units_ok = false;
  auto assessed = host.boot('B', "boot-9");
  REQUIRE(assessed);
  CHECK(assessed->verdict == BootVerdict::unhealthy);
  CHECK(assessed->report.rounds == 1);
  CHECK(host.manager.reboots == 0);
  CHECK(host.esp.names_.size() == 2);
}

TEST_CASE("a failed update booted again (the reboot away never happened) is left again",
          "[assess]") {
  Host host;
  host.fail_at_round = 2;
  REQUIRE(host.boot('B', "boot-2"));
  REQUIRE(host.manager.reboots == 1);
  // A power cut before the reboot, and the firmware picked 1.0.1 once more.
  host.esp.names_ = {"cairn_1.0.0.efi", "cairn_1.0.1+1-2.efi"};
  host.fail_at_round = 1000;
  auto again = host.boot('B', "boot-3");
  REQUIRE(again);
  CHECK(again->verdict == BootVerdict::failed);
  CHECK(host.manager.reboots == 2);
  CHECK(host.esp.names_ == std::vector<std::string>{"cairn_1.0.0.efi", "cairn_1.0.1+0-0.efi"});
  CHECK(host.state().phase == Phase::failed);
  CHECK(host.state().security_floor == 1);  // its passing checks this time do not commit it
}

TEST_CASE("the window holds the lock only at its transitions", "[assess]") {
  Host host;
  // An administrator commits while the window runs: the window's end respects it.
  host.checks_hook = [&] {
    auto lifecycle = Lifecycle::open(host.dir.path());
    REQUIRE(lifecycle.has_value());
    REQUIRE(lifecycle->commit(Verdict::administrator, ""));
  };
  host.fail_at_round = 2;
  auto assessed = host.boot('B', "boot-2");
  REQUIRE(assessed);
  CHECK(assessed->verdict == BootVerdict::committed);
  CHECK(host.manager.reboots == 0);
  CHECK(host.state().phase == Phase::committed);
  CHECK(host.state().security_floor == 2);
}
