// The host's side of a fleet, on a real host or a disk-image file: `cairn-update poll` (the
// timer's), and the report to the fleet store after every boot's health assessment. Both read
// the [fleet] section of update.toml; without it they have nothing to do.
#pragma once

#include "updater/host.hpp"
#include "updater/poll.hpp"
#include "updater/trust_cache.hpp"

namespace cairn::updater {

// This host's machine-id: the one given, else /etc/machine-id (32 lower-case hex digits).
Expected<std::string> machine_id(const HostOptions& host);

// What a long-lived poller (the daemon) keeps from one poll to the next.
struct PollMemory {
  TrustCache trust;  // the anchors, and the cached index's signature once checked
};

// One poll (poll.hpp), with the store kept informed; nothing to do without a channel. `stop`
// cancels an install the poll started (the daemon's Cancel()); `memory`, when given, is what
// earlier polls of this process left.
Expected<PollResult> run_poll(const HostOptions& host, const UpdateConfig& config,
                              Progress& progress, std::stop_token stop = {},
                              PollMemory* memory = nullptr);

// Sends the outcomes of finished updates (and the host's record) to the fleet store, if one is
// configured. Nothing is lost when the store is unreachable: the next poll sends them.
Status report_to_fleet(const HostOptions& host, const UpdateConfig& config);

}  // namespace cairn::updater
