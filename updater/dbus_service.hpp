// cairn-update's D-Bus service, org.cairn.Update1 on the system bus (sd-bus), run by
// cairn-update.service (Type=notify). Interface org.cairn.Update1 at /org/cairn/Update1:
//   Install(s source) → (s version, s slot)   a bundle file path; one install at a time
//   MarkGood()                                the pending slot booted well: raise the floor
//   MarkBad()                                 the pending slot failed: remove its boot entry
//   Rollback() → (s version, s slot)          the next boot starts the other slot's version
//   properties SlotA, SlotB (versions, "" when empty), Booted, Pending ("" or "B 1.2.0"),
//              SecurityFloor (t), LastResult (s, JSON of the last Install),
//              History (s, JSON: every update, its steps, checks and outcome)
//   signals Progress(s stage, d fraction), Completed(b success, s message)
// Who may call what is the bus policy's job (org.cairn.Update1.conf: root and group
// cairn-admin change state; anyone reads properties).
#pragma once

#include <string>

#include "updater/host.hpp"

namespace cairn::updater {

inline constexpr const char* kBusName = "org.cairn.Update1";
inline constexpr const char* kObjectPath = "/org/cairn/Update1";
inline constexpr const char* kInterface = "org.cairn.Update1";

// "org.cairn.Update1.Error.InvalidInput": D-Bus error names carry the error's kind, so the CLI
// exits with the same code as a local install would.
std::string bus_error_name(Errc code);

// Serves until SIGTERM/SIGINT. Returns an error when the bus or the name cannot be had.
Status run_daemon(const HostOptions& host);

}  // namespace cairn::updater
