#include "updater/health_window.hpp"

#include <algorithm>
#include <thread>

namespace cairn::updater {

void SystemClock::sleep_for(std::chrono::seconds duration) {
  std::this_thread::sleep_for(duration);
}

HealthReport observe(
    std::vector<std::unique_ptr<HealthCheck>>& checks, std::chrono::seconds window,
    std::chrono::seconds interval, Clock& clock,
    const std::function<void(unsigned, const std::vector<CheckResult>&)>& on_round) {
  HealthReport report;
  auto started = clock.now();
  auto elapsed = [&] { return std::chrono::duration<double>(clock.now() - started); };
  while (true) {
    ++report.rounds;
    report.last_round.clear();
    for (auto& check : checks) report.last_round.push_back(check->run());
    if (on_round) on_round(report.rounds, report.last_round);
    for (const auto& result : report.last_round) {
      if (result.passed) continue;
      if (result.required) {
        report.reason = result.name + ": " + result.detail;
        report.seconds = elapsed().count();
        return report;
      }
      bool known = std::ranges::any_of(
          report.warnings, [&](const CheckResult& seen) { return seen.name == result.name; });
      if (!known) report.warnings.push_back(result);
    }
    auto left = window - std::chrono::duration_cast<std::chrono::seconds>(elapsed());
    if (left.count() <= 0) break;
    clock.sleep_for(std::min(interval, left));
  }
  report.healthy = true;
  report.seconds = elapsed().count();
  return report;
}

}  // namespace cairn::updater
