// The update lifecycle: its transition table, each state saved before its action, the verdicts
// written once (commit, fail, rollback), the lock, and the undoing of an interrupted install.
#include "updater/lifecycle.hpp"

#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "unit/updater/fakes.hpp"

using namespace cairn;
using namespace cairn::updater;
using namespace cairn::updater::testing;
namespace fs = std::filesystem;

namespace {

constexpr Phase kAll[] = {Phase::idle,    Phase::installing, Phase::installed,
                          Phase::booting, Phase::observing,  Phase::committed,
                          Phase::failed,  Phase::rolled_back};

struct Dir {
  TempDir dir = TempDir::create(fs::temp_directory_path(), "cairn-lifecycle-").value();
  fs::path state() const { return dir.path(); }
  Lifecycle open(TransitionHook hook = {}) {
    auto lifecycle = Lifecycle::open(state(), std::move(hook));
    REQUIRE(lifecycle.has_value());
    return std::move(*lifecycle);
  }
  HostState saved() const { return load_state(state()).value(); }
  // 1.0.1 installed into slot B during boot-1.
  Lifecycle installed_update() {
    auto lifecycle = open();
    REQUIRE(lifecycle.begin_install(
        {.slot = 'B', .version = "1.0.1", .security_version = 2, .install_boot_id = "boot-1"},
        "1.0.0", "bundle.cairnb"));
    REQUIRE(lifecycle.install_done({}));
    return lifecycle;
  }
};

}  // namespace

TEST_CASE("the transition table: an install only from rest, verdicts only on an update",
          "[lifecycle]") {
  CHECK(transition_allowed(Phase::idle, Phase::installing));
  CHECK(transition_allowed(Phase::committed, Phase::installing));
  CHECK(transition_allowed(Phase::rolled_back, Phase::installing));
  // An update on trial, or one on its way back, is never replaced by another install.
  CHECK_FALSE(transition_allowed(Phase::observing, Phase::installing));
  CHECK_FALSE(transition_allowed(Phase::booting, Phase::installing));
  CHECK_FALSE(transition_allowed(Phase::failed, Phase::installing));
  // Out of installing: finished, or stopped. Nothing else.
  for (Phase to : kAll) {
    INFO(phase_name(to));
    CHECK(transition_allowed(Phase::installing, to) ==
          (to == Phase::installed || to == Phase::idle));
  }
  // Nothing is committed or failed that was not installed.
  for (Phase from : {Phase::idle, Phase::installing, Phase::committed, Phase::rolled_back}) {
    INFO(phase_name(from));
    CHECK_FALSE(transition_allowed(from, Phase::committed));
    CHECK_FALSE(transition_allowed(from, Phase::failed));
  }
  // Every state is reachable from idle.
  std::vector<Phase> reached{Phase::idle};
  for (std::size_t i = 0; i < reached.size(); ++i) {
    for (Phase to : kAll) {
      if (transition_allowed(reached[i], to) && std::ranges::find(reached, to) == reached.end()) {
        reached.push_back(to);
      }
    }
  }
  CHECK(reached.size() == std::size(kAll));
}

TEST_CASE("each state is saved before its action runs", "[lifecycle]") {
  Dir dir;
  std::vector<std::string> seen;
  auto lifecycle = dir.open([&](std::string_view point) {
    // At the hook, the file already says so.
    seen.push_back(std::string(point) + "=" + std::string(phase_name(dir.saved().phase)));
  });
  REQUIRE(lifecycle.begin_install({.slot = 'B', .version = "1.0.1", .security_version = 2}, "1.0.0",
                                  "b"));
  REQUIRE(lifecycle.install_done({}));
  REQUIRE(lifecycle.start_booting());
  REQUIRE(lifecycle.start_observing(std::chrono::seconds(60)));
  REQUIRE(lifecycle.commit(Verdict::health_window, "2 rounds in 60 s"));
  CHECK(seen == std::vector<std::string>{"installing=installing", "installed=installed",
                                         "booting=booting", "observing=observing",
                                         "committed=committed"});
  auto state = dir.saved();
  CHECK(state.security_floor == 2);
  CHECK_FALSE(state.pending.has_value());
  auto history = History::load(dir.state()).value();
  REQUIRE(history.records().size() == 1);
  CHECK(history.records()[0].outcome == Outcome::committed);
  CHECK(history.records()[0].from_version == "1.0.0");
}

TEST_CASE("a transition the table lacks is refused and nothing is saved", "[lifecycle]") {
  Dir dir;
  auto lifecycle = dir.installed_update();
  REQUIRE(lifecycle.start_observing(std::chrono::seconds(60)));
  auto refused = lifecycle.begin_install({.slot = 'A', .version = "1.0.2"}, "1.0.1", "b");
  REQUIRE_FALSE(refused.has_value());
  CHECK_THAT(refused.error().describe(), Catch::Contains("1.0.1 in slot B is observing"));
  CHECK(dir.saved().phase == Phase::observing);
  CHECK(dir.saved().pending->version == "1.0.1");
}

TEST_CASE("a verdict without an update to judge changes nothing, the history included",
          "[lifecycle]") {
  Dir dir;
  {
    auto lifecycle = dir.installed_update();
    REQUIRE(lifecycle.commit(Verdict::administrator, ""));
  }
  auto lifecycle = dir.open();
  FakeEsp esp({"cairn_1.0.0.efi", "cairn_1.0.1+3-0.efi"});
  CHECK_FALSE(lifecycle.commit(Verdict::administrator, "").has_value());
  CHECK_FALSE(lifecycle.mark_failed(Verdict::administrator, "", esp, 'A').has_value());
  CHECK(esp.names_.size() == 2);
  CHECK(dir.saved().phase == Phase::committed);
  CHECK(dir.saved().security_floor == 2);
  auto history = History::load(dir.state()).value();
  REQUIRE(history.records().size() == 1);
  CHECK(history.records()[0].events.size() == 2);  // installed, committed: nothing since
}

TEST_CASE("one operation at a time: the lock", "[lifecycle]") {
  Dir dir;
  auto first = dir.open();
  auto second = Lifecycle::open(dir.state());
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error().code() == Errc::busy);
}

TEST_CASE("mark-bad of an update not yet booted removes its entry and the host is at rest",
          "[lifecycle]") {
  Dir dir;
  auto lifecycle = dir.installed_update();
  FakeEsp esp({"cairn_1.0.0.efi", "cairn_1.0.1+3-0.efi"});
  REQUIRE(lifecycle.mark_failed(Verdict::administrator, "", esp, 'A'));
  CHECK(esp.names_ == std::vector<std::string>{"cairn_1.0.0.efi"});
  auto state = dir.saved();
  CHECK(state.phase == Phase::rolled_back);
  CHECK(state.security_floor == 0);
  auto record = History::load(dir.state()).value().records().back();
  CHECK(record.outcome == Outcome::failed);
  CHECK(record.reason == "marked bad by an administrator");
}

TEST_CASE("a failed update that runs spends its entry, and the next boot records the rollback",
          "[lifecycle]") {
  Dir dir;
  FakeEsp esp({"cairn_1.0.0.efi", "cairn_1.0.1+2-1.efi"});
  {
    auto lifecycle = dir.installed_update();
    REQUIRE(lifecycle.start_observing(std::chrono::seconds(60)));
    REQUIRE(lifecycle.mark_failed(Verdict::health_window, "health check x: broken", esp, 'B'));
    CHECK(esp.names_ == std::vector<std::string>{"cairn_1.0.0.efi", "cairn_1.0.1+0-0.efi"});
    CHECK(dir.saved().phase == Phase::failed);
    CHECK(dir.saved().pending->failure == "health check x: broken");
  }
  auto lifecycle = dir.open();
  REQUIRE(lifecycle.record_rollback(esp, "1.0.0", 'A'));
  CHECK(dir.saved().phase == Phase::rolled_back);
  auto record = History::load(dir.state()).value().records().back();
  CHECK(record.outcome == Outcome::rolled_back);
  CHECK(record.reason == "health check x: broken");
}

TEST_CASE("an interrupted install is undone by the next operation", "[lifecycle]") {
  Dir dir;
  FakeSlotDevice device;
  // Slot B still named for 0.9 (the kill came before the retire step finished).
  SlotsHolding layout("1.0.0", "0.9");
  SECTION("killed while installing") {
    auto lifecycle = dir.open();
    REQUIRE(lifecycle.begin_install({.slot = 'B', .version = "1.0.1"}, "1.0.0", "b"));
  }
  SECTION("killed after installed was saved, before the entry") {
    auto lifecycle = dir.installed_update();
  }
  FakeEsp esp({"cairn_1.0.0.efi", "cairn_0.9+0-0.efi", "cairn_1.0.1.efi.tmp"});
  auto lifecycle = dir.open();
  auto recovered = lifecycle.recover(device, esp, layout, 'A');
  REQUIRE(recovered.has_value());
  CHECK(*recovered);
  CHECK(device.identities.at('B').root_name == "cairn_empty");
  CHECK_FALSE(device.identities.contains('A'));
  CHECK(esp.names_ == std::vector<std::string>{"cairn_1.0.0.efi", "cairn_1.0.1.efi.tmp"});
  CHECK(dir.saved().phase == Phase::idle);
  auto record = History::load(dir.state()).value().records().back();
  CHECK(record.outcome == Outcome::install_failed);
  CHECK_THAT(record.reason, Catch::Contains("interrupted"));
}

TEST_CASE("a complete install is not undone, and the running slot never is", "[lifecycle]") {
  Dir dir;
  FakeSlotDevice device;
  { auto lifecycle = dir.installed_update(); }
  FakeEsp esp({"cairn_1.0.0.efi", "cairn_1.0.1+3-0.efi"});
  auto lifecycle = dir.open();
  CHECK_FALSE(lifecycle.recover(device, esp, SlotsHolding("1.0.0", "1.0.1"), 'A').value());
  CHECK(device.identities.empty());
  // State that names the running slot as the one being installed: never touched.
  CHECK_FALSE(lifecycle.recover(device, esp, SlotsHolding("1.0.0", "1.0.1"), 'B').value());
  CHECK(device.identities.empty());
  CHECK(dir.saved().phase == Phase::installed);
}

TEST_CASE("state.json from before phases gets the phase it implies, and a bad one is refused",
          "[lifecycle]") {
  Dir dir;
  REQUIRE(
      write_file_atomic(dir.state() / "state.json",
                        R"({"security_floor": 1, "pending": {"slot": "B", "version": "1.0.1"}})"));
  CHECK(dir.saved().phase == Phase::installed);
  REQUIRE(write_file_atomic(dir.state() / "state.json",
                            R"({"security_floor": 1, "phase": "observing"})"));
  auto refused = load_state(dir.state());
  REQUIRE_FALSE(refused.has_value());
  CHECK_THAT(refused.error().describe(), Catch::Contains("phase observing without an update"));
  REQUIRE(write_file_atomic(dir.state() / "state.json", R"({"phase": "dancing"})"));
  CHECK_THAT(load_state(dir.state()).error().describe(), Catch::Contains("unknown phase"));
}
