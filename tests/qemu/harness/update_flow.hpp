// Steps the update and rollback scenarios share: a bundle of a built test image, an install
// through the guest's own cairn-update, a reboot followed on the console, and the guest's
// update status read as JSON.
#pragma once

#include <nlohmann/json.hpp>

#include "environment.hpp"
#include "machine.hpp"

namespace cairn::qemu {

// A host running 1.0.0 from slot A, with Cairn's Secure Boot keys enrolled, up to SSH.
// cold_reboot: see MachineOptions (the power-cut test keeps warm reboots, whose reset its cuts
// may follow at any delay).
Expected<Machine> boot_first_version(const TestEnvironment& env, const std::string& name,
                                     bool cold_reboot = true);

// `cairn-build bundle` of the built test image `version`, into the machine's work directory.
Expected<std::filesystem::path> bundle_of(const TestEnvironment& env, const Machine& machine,
                                          const std::string& version);

// Copies the bundle of `version` into the guest and installs it with `cairn-update install
// --json` (through the daemon); returns the install's JSON answer.
Expected<nlohmann::json> install_in_guest(const TestEnvironment& env, Machine& machine,
                                          const std::string& version);

// `systemctl reboot` in the guest; returns once the next kernel has started (its console
// position, for waiting on what that boot prints).
Expected<std::size_t> reboot_guest(Machine& machine);

// Waits for the next `count` kernel starts on the console after `from`; returns the position
// after the last one.
Expected<std::size_t> wait_for_boots(Machine& machine, int count, std::size_t from,
                                     std::chrono::seconds timeout_each);

// Waits until cairn-health.service has finished this boot's assessment (active or failed).
Status wait_for_health(Machine& machine, std::chrono::seconds timeout);

// `cairn-update status --json` in the guest.
Expected<nlohmann::json> update_status(Machine& machine);

// The boot entries on the guest's ESP, sorted, space-separated.
Expected<std::string> boot_entries(Machine& machine);

}  // namespace cairn::qemu
