#include "updater/fleet_report.hpp"

#include <algorithm>

#include "updater/lifecycle.hpp"

namespace cairn::updater {

namespace {

// The health window's length: from the event that opened it to the record's last event.
double window_seconds(const UpdateRecord& record) {
  auto opened = std::find_if(record.events.begin(), record.events.end(), [](const auto& event) {
    return event.what.find("observing for") != std::string::npos;
  });
  if (opened == record.events.end()) return 0;
  auto start = fleet::parse_time(opened->at);
  auto end = fleet::parse_time(record.events.back().at);
  if (!start || !end || *end < *start) return 0;
  return static_cast<double>((*end - *start).count());
}

}  // namespace

bool decided_by_operator(const UpdateRecord& record) {
  return record.reason == kAdministratorRollbackReason ||
         record.reason == kAdministratorMarkBadReason;
}

std::optional<fleet::OutcomeRecord> outcome_of(const UpdateRecord& record,
                                               const ReportingHost& host) {
  if (record.outcome != Outcome::committed && record.outcome != Outcome::rolled_back) {
    return std::nullopt;
  }
  fleet::OutcomeRecord out{
      .host = host.id,
      .group = host.group,
      .from_version = record.from_version,
      .to_version = record.version,
      .outcome = record.outcome == Outcome::committed ? fleet::OutcomeKind::committed
                                                      : fleet::OutcomeKind::rolled_back,
      .reason = record.reason,
      .by_operator = decided_by_operator(record),
      .window_seconds = window_seconds(record),
      .at = record.events.empty() ? utc_now() : record.events.back().at,
  };
  for (const auto& step : record.steps) out.steps.push_back({step.step, step.seconds});
  for (const auto& check : record.checks) {
    out.checks.push_back({check.name, check.passed, check.detail});
  }
  return out;
}

Status report_outcomes(fleet::FleetStore& store, const History& history, const ReportingHost& host,
                       const FailureAllowance& max_failures, PollState& state) {
  for (const auto& record : history.records()) {
    if (std::ranges::find(state.reported, record.id) != state.reported.end()) continue;
    auto outcome = outcome_of(record, host);
    if (!outcome) continue;
    CAIRN_CHECK(store.put_outcome(record.version, *outcome));
    state.reported.push_back(record.id);
    if (outcome->outcome != fleet::OutcomeKind::rolled_back || outcome->by_operator) continue;
    // Counted from the store: the other hosts' failures too.
    auto outcomes = CAIRN_TRY(store.outcomes(record.version));
    auto failures = static_cast<unsigned>(std::ranges::count_if(outcomes, [](const auto& other) {
      return other.outcome == fleet::OutcomeKind::rolled_back && !other.by_operator;
    }));
    unsigned allowed = max_failures(record.version);
    if (failures < allowed) continue;
    auto controls = CAIRN_TRY(store.controls());
    if (controls.contains(record.version)) continue;  // already halted, paused or pulled
    CAIRN_CHECK(store.put_control(
        record.version, {.state = fleet::ControlState::halted,
                         .by = host.id,
                         .reason = std::to_string(failures) + " hosts rolled back (max_failures " +
                                   std::to_string(allowed) + "); the last: " + record.reason,
                         .at = utc_now()}));
  }
  // The history keeps its newest 100 records: ids older than those are of no more use.
  if (!history.records().empty()) {
    std::uint64_t oldest = history.records().front().id;
    std::erase_if(state.reported, [&](std::uint64_t id) { return id < oldest; });
  }
  return {};
}

}  // namespace cairn::updater
