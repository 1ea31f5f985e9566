// The written report of every update on this host (/var/lib/cairn/history.json, written
// atomically, the newest 100 kept): what was installed from where, how long each install step
// took, what the health window saw, and how it ended — committed, or rolled back and why.
// `cairn-update history` and the D-Bus History property show it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "updater/health_checks.hpp"

namespace cairn::updater {

// Outcomes, in the order an update goes through them.
inline constexpr std::string_view kInstalling = "installing";         // writing (or interrupted)
inline constexpr std::string_view kInstalled = "installed";           // waiting for its reboot
inline constexpr std::string_view kInstallFailed = "install-failed";  // nothing changed
inline constexpr std::string_view kCancelled = "cancelled";           // stopped on request
inline constexpr std::string_view kObserving = "observing";           // booted, window running
inline constexpr std::string_view kCommitted = "committed";
inline constexpr std::string_view kFailed = "failed";  // marked bad; the old version is next
inline constexpr std::string_view kRolledBack = "rolled-back";  // running the old version again

struct HistoryEvent {
  std::string at;  // UTC, ISO 8601
  std::string what;
};

struct StepTiming {
  std::string step;
  double seconds = 0;
};

struct UpdateRecord {
  std::uint64_t id = 0;
  std::string version;
  std::string from_version;
  char slot = 'B';
  std::string source;
  std::uint64_t security_version = 0;
  std::string outcome;
  std::string reason;  // why it failed or was rolled back
  std::vector<StepTiming> steps;
  std::vector<CheckResult> checks;    // the health window's last round
  std::vector<CheckResult> warnings;  // wanted checks that failed
  std::vector<HistoryEvent> events;

  void add_event(std::string what);
};

class History {
 public:
  // A missing file is an empty history; a malformed one is an error.
  static Expected<History> load(const std::filesystem::path& state_dir);
  Status save(const std::filesystem::path& state_dir) const;

  UpdateRecord& add(UpdateRecord record);
  // The newest record of `version` in `slot`, if any.
  UpdateRecord* latest(std::string_view version, char slot);
  const std::vector<UpdateRecord>& records() const { return records_; }
  nlohmann::json to_json() const;

 private:
  std::vector<UpdateRecord> records_;
};

std::string utc_now();

}  // namespace cairn::updater
