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

// Where an update stands, or how it ended, in the order an update goes through them.
enum class Outcome {
  installing,      // writing (or interrupted)
  installed,       // waiting for its reboot
  install_failed,  // nothing changed (refused, failed or interrupted)
  cancelled,       // stopped on request; nothing changed
  observing,       // booted, window running
  committed,
  failed,       // marked bad; the old version is next
  rolled_back,  // running the old version again
};

// The names history.json and the CLI use: "install-failed", "rolled-back", …
std::string_view outcome_name(Outcome outcome);
std::optional<Outcome> parse_outcome(std::string_view name);

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
  Outcome outcome = Outcome::installing;
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
