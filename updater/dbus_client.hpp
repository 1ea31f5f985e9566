// The CLI's side of org.cairn.Update1: when the daemon runs, `cairn-update install` and `poll`
// ask it (one process owns the slots), and an install shows its Progress signals.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "common/progress.hpp"
#include "updater/install.hpp"
#include "updater/poll.hpp"

namespace cairn::updater {

// True when org.cairn.Update1 has an owner on the system bus.
bool daemon_available();

// Calls Install(source) and feeds the daemon's Progress signals to `progress` until it answers.
Expected<InstallResult> install_via_daemon(const std::string& source, Progress& progress);

// Calls Poll(): the daemon polls the fleet channel of its update.toml once.
Expected<PollResult> poll_via_daemon();

// The host options the daemon serves (its Host property): disk, state, trust, esp, booted,
// machine_class.
Expected<nlohmann::json> daemon_host();

// Calls a method without arguments or results (MarkGood, MarkBad, Cancel).
Status call_daemon(const char* method);

// Calls Rollback(): the slot and version the next boot starts.
Expected<std::pair<char, std::string>> rollback_via_daemon();

}  // namespace cairn::updater
