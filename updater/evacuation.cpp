#include "updater/evacuation.hpp"

#include <algorithm>

namespace cairn::updater {
namespace {

bool shuts_down(const EvacuationPolicy& policy, const std::string& domain) {
  return std::ranges::any_of(policy.shutdown_domains, [&](const std::string& name) {
    return name == "*" || name == domain;
  });
}

std::string joined(const std::vector<std::string>& items, std::string_view separator = ", ") {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : std::string(separator)) + item;
  return text;
}

}  // namespace

std::string EvacuationReport::summary() const {
  if (moved.empty() && shut_down.empty()) return "no running domain to move";
  std::string text;
  if (!moved.empty()) text = "moved " + joined(moved);
  if (!shut_down.empty())
    text += (text.empty() ? "" : "; ") + std::string("shut down ") + joined(shut_down);
  return text;
}

Expected<EvacuationReport> evacuate(Hypervisor& hypervisor, const EvacuationPolicy& policy) {
  EvacuationReport report;
  auto domains = hypervisor.running_domains();
  if (!domains) {
    return std::unexpected(std::move(domains.error()).with_context("listing the running domains"));
  }
  for (const auto& domain : *domains) {
    if (shuts_down(policy, domain)) {
      if (auto stopped = hypervisor.shut_down(domain, policy.timeout); !stopped) {
        return fail(Errc::busy,
                    "domain " + domain + " could not be shut down: " + stopped.error().describe());
      }
      report.shut_down.push_back(domain);
      continue;
    }
    std::vector<std::string> refusals;
    bool moved = false;
    for (const auto& peer : policy.peers) {
      if (auto migrated = hypervisor.migrate(domain, peer, policy.timeout); migrated) {
        report.moved.push_back(domain + " → " + peer);
        moved = true;
        break;
      } else {
        refusals.push_back(peer + ": " + migrated.error().describe());
      }
    }
    if (!moved) {
      std::string why =
          policy.peers.empty() ? "no migration_peers configured" : joined(refusals, "; ");
      std::string done = report.moved.empty() && report.shut_down.empty()
                             ? ""
                             : " (already " + report.summary() + ")";
      return fail(Errc::busy, "domain " + domain + " could not be moved: " + why + done);
    }
  }
  return report;
}

}  // namespace cairn::updater
