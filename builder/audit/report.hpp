// The compliance report: every control point of the catalogue with its status, from the checks
// that serve it — enforced, failed (with the evidence), organisational (not technically
// enforceable; what the image offers), unverified (only live checks, not run on this target) or
// not covered by the profile. compliance.json is its JSON form; table() is for people.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "builder/audit/checks.hpp"
#include "builder/audit/controls.hpp"

namespace cairn::builder::audit {

enum class ControlStatus { enforced, failed, organisational, unverified, not_covered };
std::string_view control_status_name(ControlStatus status);

struct ControlResult {
  Control control;
  ControlStatus status = ControlStatus::not_covered;
  std::vector<std::string> checks;    // ids of the checks that serve it
  std::vector<std::string> evidence;  // "check-id: what failed", for failed controls
};

struct ComplianceReport {
  std::string target_kind, target;
  std::string profile;
  std::vector<std::string> chain;
  std::vector<CheckResult> checks;
  std::vector<ControlResult> controls;  // catalogue order

  // No required check failed.
  bool passed() const;
  std::vector<std::string> failed_controls() const;
  // Stable JSON (no timestamps), so the same image gives the same report.
  nlohmann::json to_json() const;
  // A table of the controls, then the failed checks with their evidence.
  std::string table() const;
};

ComplianceReport make_report(const HardeningProfile& profile, const ControlCatalogue& catalogue,
                             const AuditTarget& target, std::vector<CheckResult> checks);

}  // namespace cairn::builder::audit
