#include "fleet/rollout_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "common/version.hpp"

namespace cairn::fleet {

namespace {

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", seconds);
  return text;
}

nlohmann::json spread_json(const Spread& spread) {
  return {{"p50", spread.p50}, {"p95", spread.p95}, {"samples", spread.samples}};
}

std::string spread_text(const Spread& spread) {
  return "p50 " + seconds_text(spread.p50) + ", p95 " + seconds_text(spread.p95) + " (" +
         std::to_string(spread.samples) + ")";
}

nlohmann::json host_json(const HostRecord& host) {
  return {{"id", host.id},           {"group", host.group},     {"channel", host.channel},
          {"version", host.version}, {"phase", host.phase},     {"target", host.target},
          {"message", host.message}, {"updated", host.updated}, {"stale", !host.alive}};
}

std::string host_line(const HostRecord& host) {
  return "  " + host.id + "  " + host.version + "  " + host.phase +
         (host.target.empty() ? "" : " → " + host.target) + (host.alive ? "" : "  STALE") +
         (host.message.empty() ? "" : "  — " + host.message) + "\n";
}

bool runs_at_least(const HostRecord& host, const std::string& version) {
  return !host.version.empty() && compare_versions(host.version, version) >= 0;
}

}  // namespace

Spread spread_of(std::vector<double> values) {
  if (values.empty()) return {};
  std::ranges::sort(values);
  auto rank = [&](double percent) {
    auto index =
        static_cast<std::size_t>(std::ceil(percent / 100.0 * static_cast<double>(values.size())));
    return values[std::clamp<std::size_t>(index, 1, values.size()) - 1];
  };
  return {.p50 = rank(50), .p95 = rank(95), .samples = values.size()};
}

RolloutReport build_report(const std::string& version, const std::vector<OutcomeRecord>& outcomes,
                           const std::vector<HostRecord>& hosts,
                           const std::map<std::string, VersionControl>& controls,
                           std::vector<PromotionRecord> promotions) {
  RolloutReport report{
      .version = version, .updated = outcomes.size(), .promotions = std::move(promotions)};
  std::map<std::string, std::vector<double>> steps;
  std::vector<double> windows;
  std::set<std::string> finished;
  for (const auto& outcome : outcomes) {
    finished.insert(outcome.host);
    if (outcome.outcome == OutcomeKind::committed) {
      ++report.committed;
    } else {
      ++report.rolled_back;
      report.rollbacks.push_back(outcome);
    }
    for (const auto& step : outcome.steps) steps[step.step].push_back(step.seconds);
    if (outcome.window_seconds > 0) windows.push_back(outcome.window_seconds);
  }
  for (auto& [step, values] : steps) report.steps[step] = spread_of(std::move(values));
  report.window = spread_of(std::move(windows));
  for (const auto& host : hosts) {
    // A host whose outcome is in, or that already runs this version or a newer one, is done.
    if (!finished.contains(host.id) && !runs_at_least(host, version)) {
      report.pending.push_back(host);
    }
  }
  if (auto it = controls.find(version); it != controls.end()) report.control = it->second;
  return report;
}

nlohmann::json report_json(const RolloutReport& report) {
  nlohmann::json rollbacks = nlohmann::json::array();
  for (const auto& outcome : report.rollbacks) {
    rollbacks.push_back({{"host", outcome.host},
                         {"from", outcome.from_version},
                         {"reason", outcome.reason},
                         {"by_operator", outcome.by_operator},
                         {"at", outcome.at}});
  }
  nlohmann::json steps = nlohmann::json::object();
  for (const auto& [step, spread] : report.steps) steps[step] = spread_json(spread);
  nlohmann::json pending = nlohmann::json::array();
  for (const auto& host : report.pending) pending.push_back(host_json(host));
  nlohmann::json out{{"version", report.version},
                     {"updated", report.updated},
                     {"committed", report.committed},
                     {"rolled_back", report.rolled_back},
                     {"rollbacks", rollbacks},
                     {"steps", steps},
                     {"window", spread_json(report.window)},
                     {"pending", pending}};
  out["promotions"] = nlohmann::json::array();
  for (const auto& promotion : report.promotions) {
    out["promotions"].push_back({{"from", promotion.from_channel},
                                 {"to", promotion.to_channel},
                                 {"by", promotion.by},
                                 {"forced", promotion.forced},
                                 {"evidence", promotion.evidence},
                                 {"at", promotion.at}});
  }
  if (report.control) {
    out["control"] = {{"state", control_state_name(report.control->state)},
                      {"by", report.control->by},
                      {"reason", report.control->reason},
                      {"at", report.control->at}};
  }
  return out;
}

std::string report_text(const RolloutReport& report) {
  std::string text = "Update report: " + report.version + "\n";
  if (report.control) {
    text += "rollout " + std::string(control_state_name(report.control->state)) + " by " +
            report.control->by + " at " + report.control->at + ": " + report.control->reason + "\n";
  }
  text += "hosts updated: " + std::to_string(report.updated) + " (committed " +
          std::to_string(report.committed) + ", rolled back " + std::to_string(report.rolled_back) +
          ")\n";
  for (const auto& outcome : report.rollbacks) {
    text += "  rolled back on " + outcome.host + (outcome.by_operator ? " (by an operator)" : "") +
            ": " + outcome.reason + "\n";
  }
  for (const auto& [step, spread] : report.steps) {
    text += "step " + step + ": " + spread_text(spread) + "\n";
  }
  if (report.window.samples > 0) text += "health window: " + spread_text(report.window) + "\n";
  for (const auto& promotion : report.promotions) {
    text += "promoted " + promotion.from_channel + " -> " + promotion.to_channel + " by " +
            promotion.by + " at " + promotion.at + (promotion.forced ? " (FORCED)" : "") + ": " +
            promotion.evidence + "\n";
  }
  text += "hosts pending: " + std::to_string(report.pending.size()) + "\n";
  for (const auto& host : report.pending) text += host_line(host);
  return text;
}

FleetStatus build_status(std::vector<HostRecord> hosts, const std::string& channel,
                         std::map<std::string, VersionControl> controls) {
  FleetStatus status{.controls = std::move(controls)};
  std::erase_if(hosts,
                [&](const auto& host) { return !channel.empty() && host.channel != channel; });
  std::ranges::sort(hosts, [](const auto& a, const auto& b) {
    int order = compare_versions(a.version, b.version);
    return order != 0 ? order < 0 : a.id < b.id;
  });
  for (const auto& host : hosts) {
    ++status.by_version[host.version];
    ++status.by_phase[host.phase];
    if (!host.alive) ++status.stale;
  }
  status.hosts = std::move(hosts);
  return status;
}

nlohmann::json status_json(const FleetStatus& status) {
  nlohmann::json hosts = nlohmann::json::array();
  for (const auto& host : status.hosts) hosts.push_back(host_json(host));
  nlohmann::json controls = nlohmann::json::object();
  for (const auto& [version, control] : status.controls) {
    controls[version] = {{"state", control_state_name(control.state)},
                         {"by", control.by},
                         {"reason", control.reason},
                         {"at", control.at}};
  }
  return {{"hosts", hosts},
          {"by_version", status.by_version},
          {"by_phase", status.by_phase},
          {"stale", status.stale},
          {"controls", controls}};
}

std::string status_text(const FleetStatus& status) {
  std::string text =
      std::to_string(status.hosts.size()) + " hosts, " + std::to_string(status.stale) + " stale\n";
  text += "by version:";
  for (const auto& [version, count] : status.by_version) {
    text += " " + version + "=" + std::to_string(count);
  }
  text += "\nby state:";
  for (const auto& [phase, count] : status.by_phase) {
    text += " " + phase + "=" + std::to_string(count);
  }
  text += "\n";
  for (const auto& [version, control] : status.controls) {
    text += version + " " + std::string(control_state_name(control.state)) + " by " + control.by +
            ": " + control.reason + "\n";
  }
  for (const auto& host : status.hosts) text += host_line(host);
  return text;
}

PromotionEvidence promotion_evidence(const std::string& version, const std::string& from_channel,
                                     std::size_t min_hosts,
                                     const std::vector<OutcomeRecord>& outcomes,
                                     const std::vector<HostRecord>& hosts) {
  std::set<std::string> followers;
  for (const auto& host : hosts) {
    if (host.channel == from_channel) followers.insert(host.id);
  }
  PromotionEvidence evidence;
  for (const auto& outcome : outcomes) {
    if (outcome.outcome == OutcomeKind::committed && followers.contains(outcome.host)) {
      ++evidence.committed;
    }
    if (outcome.outcome == OutcomeKind::rolled_back && !outcome.by_operator) {
      ++evidence.rolled_back;
    }
  }
  evidence.sufficient = evidence.committed >= min_hosts && evidence.rolled_back == 0;
  evidence.summary = std::to_string(evidence.committed) + " " + from_channel + " hosts committed " +
                     version + " (at least " + std::to_string(min_hosts) + " needed), " +
                     std::to_string(evidence.rolled_back) + " rolled it back";
  return evidence;
}

}  // namespace cairn::fleet
