// The written report after an update (`cairn-fleet report VERSION`) and the fleet's status
// (`cairn-fleet status`), computed from what the hosts put in the fleet store.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fleet/fleet_store.hpp"

namespace cairn::fleet {

struct Spread {
  double p50 = 0;
  double p95 = 0;
  std::size_t samples = 0;
};

// Nearest-rank percentiles (0 < percent <= 100) of `values`.
Spread spread_of(std::vector<double> values);

struct RolloutReport {
  std::string version;
  std::size_t updated = 0;  // hosts with an outcome
  std::size_t committed = 0;
  std::size_t rolled_back = 0;
  std::vector<OutcomeRecord> rollbacks;  // each with its reason
  std::map<std::string, Spread> steps;   // install step → durations
  Spread window;
  std::vector<HostRecord> pending;  // hosts that have not finished it (nor run a newer one)
  std::optional<VersionControl> control;
  std::vector<PromotionRecord> promotions;  // into other channels, forced ones marked
};

RolloutReport build_report(const std::string& version, const std::vector<OutcomeRecord>& outcomes,
                           const std::vector<HostRecord>& hosts,
                           const std::map<std::string, VersionControl>& controls,
                           std::vector<PromotionRecord> promotions = {});
nlohmann::json report_json(const RolloutReport& report);
std::string report_text(const RolloutReport& report);

struct FleetStatus {
  std::vector<HostRecord> hosts;  // sorted by version, then id
  std::map<std::string, std::size_t> by_version;
  std::map<std::string, std::size_t> by_phase;
  std::size_t stale = 0;
  std::map<std::string, VersionControl> controls;
};

// `channel` empty: every host.
FleetStatus build_status(std::vector<HostRecord> hosts, const std::string& channel,
                         std::map<std::string, VersionControl> controls);
nlohmann::json status_json(const FleetStatus& status);
std::string status_text(const FleetStatus& status);

// Whether the store shows enough evidence to promote `version` out of `from_channel`: at least
// `min_hosts` hosts following it committed the version, and no host rolled it back (an
// operator's rollback aside). Returns the evidence in one line, or why not.
struct PromotionEvidence {
  bool sufficient = false;
  std::size_t committed = 0;    // by hosts of `from_channel`
  std::size_t rolled_back = 0;  // by any host, operators' decisions aside
  std::size_t attested = 0;     // hosts of `from_channel` current on it at the verifier
  std::string summary;
};
PromotionEvidence promotion_evidence(const std::string& version, const std::string& from_channel,
                                     std::size_t min_hosts,
                                     const std::vector<OutcomeRecord>& outcomes,
                                     const std::vector<HostRecord>& hosts);

}  // namespace cairn::fleet
