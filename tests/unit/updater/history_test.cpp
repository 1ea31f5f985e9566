#include "updater/history.hpp"

#include <catch2/catch.hpp>

#include "common/fs.hpp"

using namespace cairn;
using namespace cairn::updater;
namespace fs = std::filesystem;

TEST_CASE("the update history survives a save and load, newest last", "[history]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-history-");
  REQUIRE(dir);
  auto empty = History::load(dir->path());
  REQUIRE(empty);
  CHECK(empty->records().empty());

  History history;
  UpdateRecord record{.version = "1.0.1",
                      .from_version = "1.0.0",
                      .slot = 'B',
                      .source = "https://updates.example/kvm-host_1.0.1.cairnb",
                      .security_version = 3,
                      .outcome = Outcome::failed,
                      .reason = "health check failed-units: failed units: libvirtd.service",
                      .steps = {{"verify", 0.25}, {"write", 4.5}},
                      .checks = {{.name = "failed-units", .passed = false, .detail = "x"}},
                      .warnings = {{.name = "wanted.d/ntp", .required = false, .detail = "y"}}};
  record.add_event("installed");
  history.add(record);
  history.add({.version = "1.0.2", .slot = 'B', .outcome = Outcome::installed});
  REQUIRE(history.save(dir->path()));

  auto loaded = History::load(dir->path());
  REQUIRE(loaded);
  REQUIRE(loaded->records().size() == 2);
  const auto& first = loaded->records()[0];
  CHECK(first.id == 1);
  CHECK(loaded->records()[1].id == 2);
  CHECK(first.reason == record.reason);
  CHECK(first.security_version == 3);
  REQUIRE(first.steps.size() == 2);
  CHECK(first.steps[1].seconds == Approx(4.5));
  CHECK_FALSE(first.checks[0].passed);
  CHECK_FALSE(first.warnings[0].required);
  CHECK(first.events[0].what == "installed");
  CHECK(first.events[0].at.size() == 20);  // 2026-12-01T18:00:00Z
  CHECK(loaded->latest("1.0.1", 'B')->id == 1);
  CHECK(loaded->latest("1.0.1", 'A') == nullptr);
}

TEST_CASE("the history keeps the newest 100 updates and refuses a foreign file", "[history]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-history-");
  REQUIRE(dir);
  History history;
  for (int i = 0; i < 130; ++i) {
    history.add({.version = "1.0." + std::to_string(i), .outcome = Outcome::installed});
  }
  CHECK(history.records().size() == 100);
  CHECK(history.records().front().version == "1.0.30");
  CHECK(history.records().back().id == 130);
  REQUIRE(write_file_atomic(dir->path() / "history.json", "[1, 2]"));
  auto loaded = History::load(dir->path());
  REQUIRE_FALSE(loaded);
  CHECK_THAT(loaded.error().message(), Catch::Contains("not a Cairn update history"));
}

TEST_CASE("outcomes are an enum, written by their names, and an unknown name is refused",
          "[history]") {
  for (auto outcome :
       {Outcome::installing, Outcome::installed, Outcome::install_failed, Outcome::cancelled,
        Outcome::observing, Outcome::committed, Outcome::failed, Outcome::rolled_back}) {
    CHECK(parse_outcome(outcome_name(outcome)) == outcome);
  }
  CHECK(outcome_name(Outcome::rolled_back) == "rolled-back");
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-history-");
  REQUIRE(dir);
  REQUIRE(
      write_file_atomic(dir->path() / "history.json",
                        R"({"updates": [{"id": 1, "version": "1.0", "outcome": "exploded"}]})"));
  auto loaded = History::load(dir->path());
  REQUIRE_FALSE(loaded);
  CHECK_THAT(loaded.error().message(), Catch::Contains("unknown outcome 'exploded'"));
}
