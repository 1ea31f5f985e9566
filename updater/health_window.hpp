// The observation window after an update: every `interval`, one round of every check, until the
// window has passed (healthy) or a required check fails (unhealthy, at once: the rollback should
// not wait for the window to end). Failed wanted checks are kept as warnings.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "updater/health_checks.hpp"

namespace cairn::updater {

// Time for the window, behind a seam so unit tests run a 10-minute window instantly.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point now() = 0;
  virtual void sleep_for(std::chrono::seconds duration) = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() override { return std::chrono::steady_clock::now(); }
  void sleep_for(std::chrono::seconds duration) override;
};

struct HealthReport {
  bool healthy = false;
  std::string reason;  // the first failed required check, with its evidence
  std::vector<CheckResult> last_round;
  std::vector<CheckResult> warnings;  // first failure of each wanted check
  unsigned rounds = 0;
  double seconds = 0;  // how long the window ran
};

// `on_round` (may be empty) sees each round's results as they come, for the journal.
HealthReport observe(
    std::vector<std::unique_ptr<HealthCheck>>& checks, std::chrono::seconds window,
    std::chrono::seconds interval, Clock& clock,
    const std::function<void(unsigned, const std::vector<CheckResult>&)>& on_round = {});

}  // namespace cairn::updater
