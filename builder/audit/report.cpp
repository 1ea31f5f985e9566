#include "builder/audit/report.hpp"

#include <algorithm>
#include <map>

namespace cairn::builder::audit {

namespace {

using enum ControlStatus;

ControlStatus status_of(const Control& control, const std::vector<const CheckResult*>& serving,
                        std::vector<std::string>& evidence) {
  bool any_pass = false;
  for (const auto* check : serving) {
    if (check->status == CheckStatus::fail && check->tags.required) {
      evidence.push_back(check->id + ": " + check->evidence);
    }
    any_pass = any_pass || check->status == CheckStatus::pass;
  }
  if (!evidence.empty()) return failed;
  if (control.organisational) return organisational;
  if (any_pass) return enforced;
  return serving.empty() ? not_covered : unverified;
}

}  // namespace

std::string_view control_status_name(ControlStatus status) {
  switch (status) {
    case enforced:
      return "enforced";
    case failed:
      return "failed";
    case organisational:
      return "organisational";
    case unverified:
      return "unverified";
    case not_covered:
      return "not-covered";
  }
  return "?";
}

ComplianceReport make_report(const HardeningProfile& profile, const ControlCatalogue& catalogue,
                             const AuditTarget& target, std::vector<CheckResult> checks) {
  ComplianceReport report{.target_kind = target.kind,
                          .target = target.description,
                          .profile = profile.name,
                          .chain = profile.chain,
                          .checks = std::move(checks)};
  for (const auto& control : catalogue.controls) {
    std::vector<const CheckResult*> serving;
    ControlResult result{.control = control};
    for (const auto& check : report.checks) {
      const auto& ids = check.tags.controls;
      if (std::find(ids.begin(), ids.end(), control.id) == ids.end()) continue;
      serving.push_back(&check);
      result.checks.push_back(check.id);
    }
    result.status = status_of(control, serving, result.evidence);
    report.controls.push_back(std::move(result));
  }
  return report;
}

bool ComplianceReport::passed() const {
  return std::none_of(checks.begin(), checks.end(), [](const CheckResult& check) {
    return check.status == CheckStatus::fail && check.tags.required;
  });
}

std::vector<std::string> ComplianceReport::failed_controls() const {
  std::vector<std::string> ids;
  for (const auto& control : controls) {
    if (control.status == failed) ids.push_back(control.control.id);
  }
  return ids;
}

nlohmann::json ComplianceReport::to_json() const {
  std::map<std::string, std::size_t> counts;
  for (auto status : {enforced, failed, organisational, unverified, not_covered}) {
    counts[std::string(control_status_name(status))] = 0;
  }
  nlohmann::json out = {{"format", 1},
                        {"target", {{"kind", target_kind}, {"path", target}}},
                        {"profile", profile},
                        {"profile_chain", chain},
                        {"result", passed() ? "pass" : "fail"},
                        {"failed_controls", failed_controls()}};
  out["controls"] = nlohmann::json::array();
  for (const auto& control : controls) {
    counts[std::string(control_status_name(control.status))]++;
    nlohmann::json entry = {{"id", control.control.id},
                            {"document", control.control.document},
                            {"title", control.control.title},
                            {"status", control_status_name(control.status)},
                            {"checks", control.checks}};
    if (!control.evidence.empty()) entry["evidence"] = control.evidence;
    if (!control.control.offers.empty()) entry["offers"] = control.control.offers;
    out["controls"].push_back(std::move(entry));
  }
  out["summary"] = counts;
  out["checks"] = nlohmann::json::array();
  for (const auto& check : checks) {
    nlohmann::json entry = {{"id", check.id},
                            {"type", check.type},
                            {"expected", check.expected},
                            {"controls", check.tags.controls},
                            {"required", check.tags.required},
                            {"status", check_status_name(check.status)},
                            {"evidence", check.evidence},
                            {"profile", check.tags.profile}};
    if (!check.tags.why.empty()) entry["why"] = check.tags.why;
    out["checks"].push_back(std::move(entry));
  }
  return out;
}

std::string ComplianceReport::table() const {
  std::string out =
      "Compliance of " + target + " (" + target_kind + ") with profile '" + profile + "'\n\n";
  char line[512];
  std::snprintf(line, sizeof line, "  %-16s %-15s %s\n", "CONTROL", "STATUS", "TITLE");
  out += line;
  for (const auto& control : controls) {
    std::snprintf(line, sizeof line, "  %-16s %-15s %s\n", control.control.id.c_str(),
                  std::string(control_status_name(control.status)).c_str(),
                  control.control.title.c_str());
    out += line;
  }
  std::size_t passed_checks = 0, skipped = 0;
  std::string failures;
  for (const auto& check : checks) {
    if (check.status == CheckStatus::pass) passed_checks++;
    if (check.status == CheckStatus::skipped) skipped++;
    if (check.status != CheckStatus::fail) continue;
    failures += "  " + std::string(check.tags.required ? "FAIL " : "warn ") + check.id + " (";
    for (std::size_t i = 0; i < check.tags.controls.size(); ++i) {
      failures += (i ? ", " : "") + check.tags.controls[i];
    }
    failures += "): " + check.evidence + "\n";
  }
  std::snprintf(line, sizeof line, "\n%zu checks: %zu passed, %zu failed, %zu skipped\n",
                checks.size(), passed_checks, checks.size() - passed_checks - skipped, skipped);
  out += line;
  if (!failures.empty()) out += failures;
  out += passed() ? "Result: pass\n" : "Result: FAIL\n";
  return out;
}

}  // namespace cairn::builder::audit
