// The host cairn-update runs on (or the disk-image file it is pointed at): where the slots,
// the ESP, the trust anchors and the state are, and which slot is running. Shared by the CLI
// and the D-Bus daemon.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "common/progress.hpp"
#include "updater/boot_assessment.hpp"
#include "updater/install.hpp"
#include "updater/lifecycle.hpp"
#include "updater/rollback.hpp"
#include "updater/source.hpp"
#include "updater/update_config.hpp"

namespace cairn::updater {

struct HostOptions {
  std::filesystem::path disk;
  std::string booted;         // "A", "B", or empty: from the kernel command line
  std::filesystem::path esp;  // mounted ESP; empty: /efi, or the ESP inside a disk-image file
  std::filesystem::path trust = "/usr/share/cairn/trust";
  std::filesystem::path state = "/var/lib/cairn";
  std::string machine_class;      // empty: /usr/lib/cairn/machine-class
  std::filesystem::path ca_file;  // extra CA for https bundle URLs
  // The running image's os-release: its security version is the lowest floor this host has.
  std::filesystem::path os_release = "/usr/lib/os-release";
  // Install a version older than the running one (an administrator's explicit choice).
  bool allow_downgrade = false;
  // Every lifecycle point, for the kill-at-every-transition test (lifecycle.hpp).
  TransitionHook on_transition;
  // The host's identity in its fleet; empty: /etc/machine-id (a disk-image file needs its own).
  std::string machine_id;
};

// Whether --disk names a disk-image file (which runs nothing: no services, no reboot) rather
// than the block device of the running host.
bool is_disk_image(const HostOptions& host);

// The slot the running system booted: the root PARTUUID systemd-veritysetup opened.
Expected<char> booted_slot(const SlotLayout& layout, const std::string& forced);
Expected<std::string> machine_class(const HostOptions& host);

// The disk holding the running root partition (from the kernel command line).
Expected<std::filesystem::path> default_disk();

// The ESP: the one given, the one inside a disk-image file, or /efi.
std::unique_ptr<Esp> open_esp(const HostOptions& host, const SlotLayout& layout,
                              ProcessRunner& runner);

// The security version of the image in the booted slot (CAIRN_SECURITY_VERSION): from the
// running system's os-release, or, for a disk-image file, from its booted entry's .osrel.
Expected<std::uint64_t> running_image_security_version(const HostOptions& host,
                                                       const SlotLayout& layout, char booted,
                                                       Esp& esp);

// Raises state.json's floor to the running image's security version (at boot), unless the
// booted slot is pending: a version on trial raises the floor only when it commits.
Status record_image_floor(const HostOptions& host, const SlotLayout& layout, char booted, Esp& esp);

// An administrator's verdict on the pending update (lifecycle.hpp): good commits it (its
// security version becomes the floor); bad makes the other slot's version the next boot.
Status mark_good(const HostOptions& host);
Status mark_bad(const HostOptions& host);

// The next boot starts the other slot's version (see rollback.hpp); returns what changed.
Expected<RollbackPlan> rollback(const HostOptions& host);

// Installs the bundle at `source`: a file, "-" for stdin, or an http(s) URL (streamed). A stop
// request cancels it (Errc::cancelled), leaving the target slot unbootable.
// `options`: how a URL is downloaded (the host's ca_file is added); a channel's install passes the
// size and digest its index gives.
Expected<InstallResult> run_install(const std::string& source, const HostOptions& host,
                                    Progress& progress, std::stop_token stop = {},
                                    SourceOptions options = {});

using RoundObserver = std::function<void(unsigned, const std::vector<CheckResult>&)>;

// This boot's health assessment (cairn-health.service): the observation window of a pending
// update and its commit or rollback, or one round of checks (boot_assessment.hpp).
class HostRebootGate;
// The rollback reboot of a failed window passes `gate` (host_gate.hpp) first.
Expected<BootAssessment> run_health(const HostOptions& host, const UpdateConfig& config,
                                    const RoundObserver& on_round, HostRebootGate& gate);

}  // namespace cairn::updater
