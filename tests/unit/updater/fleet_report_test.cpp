// Outcomes go from history.json to the fleet store once each, and a version halts when its
// failures reach the rollout's allowance — an administrator's rollback aside.
#include "updater/fleet_report.hpp"

#include <catch2/catch.hpp>

#include "unit/fleet/fake_fleet_store.hpp"
#include "updater/lifecycle.hpp"

using namespace cairn;
using namespace cairn::updater;

namespace {

History history_of(std::vector<UpdateRecord> records) {
  History history;
  for (auto& record : records) history.add(std::move(record));
  return history;
}

UpdateRecord finished(std::string version, Outcome outcome, std::string reason = "") {
  UpdateRecord record{
      .version = std::move(version),
      .from_version = "1.0.0",
      .outcome = outcome,
      .reason = std::move(reason),
      .steps = {{"write", 12.5}, {"check", 3.0}},
      .checks = {{.name = "libvirtd", .required = true, .passed = false, .detail = "inactive"}}};
  record.events = {{"2026-12-03T21:00:00Z", "installed"},
                   {"2026-12-03T21:05:00Z", "booted from slot B; observing for 600 s"},
                   {"2026-12-03T21:15:00Z", "done"}};
  return record;
}

}  // namespace

TEST_CASE("finished updates are reported once, with steps, window and checks", "[fleet_report]") {
  fleet::testing::FakeFleetStore store;
  PollState state;
  auto history =
      history_of({finished("1.0.1", Outcome::committed), finished("1.0.2", Outcome::installed),
                  finished("1.0.3", Outcome::install_failed, "refused")});
  auto allowance = [](const std::string&) { return 1u; };
  REQUIRE(report_outcomes(store, history, {.id = "h1", .group = "g"}, allowance, state));
  REQUIRE(store.outcome_records.size() == 1);
  const auto& outcome = store.outcome_records["1.0.1"]["h1"];
  CHECK(outcome.outcome == fleet::OutcomeKind::committed);
  CHECK(outcome.from_version == "1.0.0");
  CHECK(outcome.group == "g");
  CHECK(outcome.steps.size() == 2);
  CHECK(outcome.window_seconds == 600);
  REQUIRE(outcome.checks.size() == 1);
  CHECK(outcome.checks[0].detail == "inactive");
  unsigned before = store.requests;
  REQUIRE(report_outcomes(store, history, {.id = "h1", .group = "g"}, allowance, state));
  CHECK(store.requests == before);  // nothing new: nothing sent
}

TEST_CASE("the failure that reaches max_failures halts the version", "[fleet_report]") {
  fleet::testing::FakeFleetStore store;
  auto allowance = [](const std::string& version) { return version == "1.0.1" ? 3u : 1u; };
  // Two other hosts already rolled back, and one operator rollback that does not count.
  store.outcome_records["1.0.1"]["h2"] = {.host = "h2", .outcome = fleet::OutcomeKind::rolled_back};
  store.outcome_records["1.0.1"]["h3"] = {.host = "h3", .outcome = fleet::OutcomeKind::rolled_back};
  store.outcome_records["1.0.1"]["h4"] = {
      .host = "h4", .outcome = fleet::OutcomeKind::rolled_back, .by_operator = true};
  SECTION("an operator's rollback here does not halt it") {
    PollState state;
    auto history = history_of(
        {finished("1.0.1", Outcome::rolled_back, std::string(kAdministratorRollbackReason))});
    REQUIRE(report_outcomes(store, history, {.id = "h1"}, allowance, state));
    CHECK(store.outcome_records["1.0.1"]["h1"].by_operator);
    CHECK(store.control_records.empty());
  }
  SECTION("a third failure does") {
    PollState state;
    auto history =
        history_of({finished("1.0.1", Outcome::rolled_back, "health check libvirtd failed")});
    REQUIRE(report_outcomes(store, history, {.id = "h1"}, allowance, state));
    REQUIRE(store.control_records.contains("1.0.1"));
    const auto& halt = store.control_records["1.0.1"];
    CHECK(halt.state == fleet::ControlState::halted);
    CHECK(halt.by == "h1");
    CHECK_THAT(halt.reason, Catch::Contains("3 hosts rolled back (max_failures 3)"));
    CHECK_THAT(halt.reason, Catch::Contains("libvirtd"));
  }
  SECTION("an operator's pause is not overwritten by a halt") {
    store.control_records["1.0.1"] = {.state = fleet::ControlState::paused, .by = "ops"};
    PollState state;
    auto history = history_of({finished("1.0.1", Outcome::rolled_back, "boot failed")});
    REQUIRE(report_outcomes(store, history, {.id = "h1"}, allowance, state));
    CHECK(store.control_records["1.0.1"].state == fleet::ControlState::paused);
  }
}

TEST_CASE("an unreachable store keeps the outcome for the next time", "[fleet_report]") {
  fleet::testing::FakeFleetStore store;
  store.unreachable = true;
  PollState state;
  auto history = history_of({finished("1.0.1", Outcome::committed)});
  auto allowance = [](const std::string&) { return 1u; };
  CHECK_FALSE(report_outcomes(store, history, {.id = "h1"}, allowance, state));
  CHECK(state.reported.empty());
  store.unreachable = false;
  REQUIRE(report_outcomes(store, history, {.id = "h1"}, allowance, state));
  CHECK(store.outcome_records["1.0.1"].contains("h1"));
  CHECK(state.reported.size() == 1);
}
