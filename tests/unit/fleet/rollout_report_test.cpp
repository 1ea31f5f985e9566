// The report after an update and the fleet's status, from store records: counts, percentiles,
// pending hosts, stale hosts, and the evidence a promotion needs.
#include "fleet/rollout_report.hpp"

#include <catch2/catch.hpp>

using namespace cairn::fleet;

namespace {

OutcomeRecord outcome(std::string host, OutcomeKind kind, double write_seconds, double window = 600,
                      bool by_operator = false) {
  return {.host = std::move(host),
          .from_version = "1.0.0",
          .to_version = "1.0.1",
          .outcome = kind,
          .reason = kind == OutcomeKind::rolled_back ? "health check network failed" : "",
          .by_operator = by_operator,
          .steps = {{"write", write_seconds}},
          .window_seconds = window};
}

HostRecord host(std::string id, std::string version, std::string channel = "staging",
                bool alive = true) {
  return {.id = std::move(id),
          .channel = std::move(channel),
          .version = std::move(version),
          .phase = "committed",
          .alive = alive};
}

}  // namespace

TEST_CASE("percentiles are nearest-rank", "[rollout_report]") {
  auto spread = spread_of({5, 1, 4, 2, 3, 10, 9, 8, 7, 6});
  CHECK(spread.p50 == 5);
  CHECK(spread.p95 == 10);
  CHECK(spread.samples == 10);
  CHECK(spread_of({}).samples == 0);
  CHECK(spread_of({42}).p95 == 42);
}

TEST_CASE("the report counts outcomes, keeps each reason and lists pending hosts",
          "[rollout_report]") {
  std::vector<OutcomeRecord> outcomes = {outcome("a", OutcomeKind::committed, 10),
                                         outcome("b", OutcomeKind::committed, 20),
                                         outcome("c", OutcomeKind::rolled_back, 30, 15)};
  std::vector<HostRecord> hosts = {host("a", "1.0.1"), host("b", "1.0.1"), host("c", "1.0.0"),
                                   host("d", "1.0.0"), host("e", "1.0.2")};
  auto report = build_report("1.0.1", outcomes, hosts,
                             {{"1.0.1", {.state = ControlState::halted, .by = "c"}}});
  CHECK(report.updated == 3);
  CHECK(report.committed == 2);
  CHECK(report.rolled_back == 1);
  REQUIRE(report.rollbacks.size() == 1);
  CHECK(report.rollbacks[0].host == "c");
  CHECK(report.steps["write"].p50 == 20);
  CHECK(report.window.p50 == 600);
  // c finished (rolled back), e runs a newer version: only d is pending.
  REQUIRE(report.pending.size() == 1);
  CHECK(report.pending[0].id == "d");
  REQUIRE(report.control);
  CHECK(report.control->state == ControlState::halted);
  auto json = report_json(report);
  CHECK(json["rollbacks"][0]["reason"] == "health check network failed");
  auto text = report_text(report);
  CHECK_THAT(text, Catch::Contains("rolled back on c: health check network failed"));
  CHECK_THAT(text, Catch::Contains("rollout halted"));
}

TEST_CASE("status groups hosts by version and state and marks stale ones", "[rollout_report]") {
  auto status = build_status(
      {host("b", "1.0.1"), host("a", "1.0.0", "stable", false), host("c", "1.0.1", "staging")}, "",
      {});
  REQUIRE(status.hosts.size() == 3);
  CHECK(status.hosts[0].id == "a");  // by version, then id
  CHECK(status.by_version["1.0.1"] == 2);
  CHECK(status.stale == 1);
  CHECK_THAT(status_text(status), Catch::Contains("STALE"));
  auto staging = build_status({host("b", "1.0.1"), host("a", "1.0.0", "stable")}, "staging", {});
  CHECK(staging.hosts.size() == 1);
}

TEST_CASE("promotion needs enough committed staging hosts and no failure", "[rollout_report]") {
  std::vector<HostRecord> hosts = {host("a", "1.0.1"), host("b", "1.0.1"),
                                   host("s", "1.0.1", "stable")};
  auto two = promotion_evidence(
      "1.0.1", "staging", 2,
      {outcome("a", OutcomeKind::committed, 1), outcome("b", OutcomeKind::committed, 1),
       outcome("s", OutcomeKind::committed, 1)},
      hosts);
  CHECK(two.sufficient);
  CHECK(two.committed == 2);  // the stable host's commit is not staging's evidence
  auto three = promotion_evidence(
      "1.0.1", "staging", 3,
      {outcome("a", OutcomeKind::committed, 1), outcome("b", OutcomeKind::committed, 1)}, hosts);
  CHECK_FALSE(three.sufficient);
  CHECK_THAT(three.summary, Catch::Contains("at least 3 needed"));
  auto failed = promotion_evidence(
      "1.0.1", "staging", 1,
      {outcome("a", OutcomeKind::committed, 1), outcome("s", OutcomeKind::rolled_back, 1)}, hosts);
  CHECK_FALSE(failed.sufficient);
  auto operator_rollback =
      promotion_evidence("1.0.1", "staging", 1,
                         {outcome("a", OutcomeKind::committed, 1),
                          outcome("b", OutcomeKind::rolled_back, 1, 0, /*by_operator=*/true)},
                         hosts);
  CHECK(operator_rollback.sufficient);
}
