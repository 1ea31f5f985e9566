#include "updater/health_window.hpp"

#include <catch2/catch.hpp>

#include "unit/updater/fakes.hpp"

using namespace cairn;
using namespace cairn::updater;
using namespace cairn::updater::testing;
using namespace std::chrono_literals;

namespace {

struct Checks {
  std::vector<std::unique_ptr<HealthCheck>> list;
  ScriptedCheck* add(std::string name, bool required, std::function<bool(unsigned)> answer) {
    auto check = std::make_unique<ScriptedCheck>(std::move(name), required, std::move(answer));
    auto* raw = check.get();
    list.push_back(std::move(check));
    return raw;
  }
};

}  // namespace

TEST_CASE("a healthy window runs a round every interval until it has passed", "[health]") {
  Checks checks;
  auto* units = checks.add("failed-units", true, [](unsigned) { return true; });
  FakeClock clock;
  std::vector<unsigned> seen;
  auto report = observe(checks.list, 600s, 30s, clock,
                        [&](unsigned round, const auto&) { seen.push_back(round); });
  CHECK(report.healthy);
  CHECK(report.reason.empty());
  CHECK(report.rounds == 21);  // at 0, 30, …, 600 s
  CHECK(units->runs == 21);
  CHECK(seen.size() == 21);
  CHECK(clock.slept == 600s);
  CHECK(report.seconds == Approx(600));
}

TEST_CASE("a failed required check ends the window at once with its evidence", "[health]") {
  Checks checks;
  checks.add("failed-units", true, [](unsigned) { return true; });
  checks.add("required.d/vm-network", true, [](unsigned round) { return round < 4; });
  FakeClock clock;
  auto report = observe(checks.list, 600s, 30s, clock);
  CHECK_FALSE(report.healthy);
  CHECK(report.rounds == 4);
  CHECK(clock.slept == 90s);  // not the whole window: the rollback should not wait
  CHECK(report.reason == "required.d/vm-network: broken in round 4");
  REQUIRE(report.last_round.size() == 2);
  CHECK_FALSE(report.last_round[1].passed);
}

TEST_CASE("a failed wanted check is a warning, once, and the window still passes", "[health]") {
  Checks checks;
  checks.add("wanted.d/ntp-synced", false, [](unsigned round) { return round > 2; });
  FakeClock clock;
  auto report = observe(checks.list, 60s, 30s, clock);
  CHECK(report.healthy);
  REQUIRE(report.warnings.size() == 1);
  CHECK(report.warnings[0].detail == "broken in round 1");
}

TEST_CASE("a zero window is one round, and the last sleep is cut to the window", "[health]") {
  Checks checks;
  checks.add("failed-units", true, [](unsigned) { return true; });
  FakeClock clock;
  CHECK(observe(checks.list, 0s, 30s, clock).rounds == 1);
  CHECK(clock.slept == 0s);
  auto report = observe(checks.list, 45s, 30s, clock);
  CHECK(report.rounds == 3);  // 0, 30, 45
  CHECK(clock.slept == 45s);
}
