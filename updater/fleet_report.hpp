// What a host tells its fleet store about its updates: the outcome of every update that ended
// (committed or rolled back) under outcomes/<version>/<host>, taken from history.json, which is
// the report's source of truth and its outbox — an outcome the store could not take is sent at
// the next poll or boot. A version whose failures reach its rollout's max_failures is halted
// by the host that saw the last one: no host starts it any more until an operator resumes it.
#pragma once

#include <string>

#include "fleet/channel_index.hpp"
#include "fleet/fleet_store.hpp"
#include "updater/history.hpp"
#include "updater/poll_state.hpp"

namespace cairn::updater {

struct ReportingHost {
  std::string id;  // machine-id
  std::string group;
};

// The store's record of one finished update (nullopt: the record has not ended, or ended
// before it changed anything — refused, cancelled, failed to install).
std::optional<fleet::OutcomeRecord> outcome_of(const UpdateRecord& record,
                                               const ReportingHost& host);

// Whether an administrator's command (rollback, mark-bad) ended the update.
bool decided_by_operator(const UpdateRecord& record);

// Sends every finished update of `history` not in `state.reported` yet, adding it there (the
// caller saves `state`). `max_failures` gives a version's allowance (the adopted update's, the
// cached index's, or 1). Halts a version once its failures reach it.
using FailureAllowance = std::function<unsigned(const std::string& version)>;
Status report_outcomes(fleet::FleetStore& store, const History& history, const ReportingHost& host,
                       const FailureAllowance& max_failures, PollState& state);

}  // namespace cairn::updater
