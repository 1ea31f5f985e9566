// cairn-update's D-Bus service, org.cairn.Update1 on the system bus (sd-bus), run by
// cairn-update.service (Type=notify). Interface org.cairn.Update1 at /org/cairn/Update1:
//   Install(s source) → (s version, s slot, s entry, t security_version)
//                         a bundle file path or URL; runs off the event loop (install_job.hpp),
//                         answered when it ends; a second Install while one runs: Error.Busy
//   Poll() → (s message, s installed, b rebooting)
//                         one poll of update.toml's [fleet] channel, run in the daemon (what
//                         `cairn-update poll` asks); the timer asks for the same poll through
//                         cairn-update-poll.socket instead (poll_trigger.hpp). An install it
//                         starts runs as Install's does (Progress, Cancel); while a job runs:
//                         Error.Busy
//   Cancel()              stops the running install; its target slot is left unbootable
//   MarkGood()            the pending update booted well: commit it (its floor)
//   MarkBad()             the pending update failed: the other slot's version boots next
//   Rollback() → (s version, s slot)   the next boot starts the other slot's version
//   properties  Status (s, JSON: what `cairn-update status --json` prints), Phase, SlotA, SlotB
//               (versions with a boot entry, "" otherwise), Booted, Pending ("" or "B 1.2.0"),
//               SecurityFloor (t), Installing (b), LastResult (s, JSON of the last Install),
//               History (s, JSON: every update, its steps, checks and outcome), Host (s, JSON:
//               the disk, state and trust directories this daemon serves)
//   signals     Progress(s stage, s event, d fraction, t bytes_done, t bytes_total, d seconds)
//                 event: "started", "bytes" or "finished" (with the stage's seconds)
//               Completed(b success, s message)
// Properties answer during an install: the status view reads without taking the update lock.
// Who may call what is the bus policy's job (org.cairn.Update1.conf: root and group
// cairn-admin change state; anyone reads properties).
#pragma once

#include <filesystem>
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
// `config_root` is where Poll() reads etc/cairn/update.toml and its drop-ins, at every call.
Status run_daemon(const HostOptions& host, const std::filesystem::path& config_root = "/");

}  // namespace cairn::updater
