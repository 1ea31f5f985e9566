// The audit's checks: each profile entry becomes one check of what the target really holds (the
// kernel command line, sysctl.d, fstab, installed files, libvirt's configuration), plus the
// profile's explicit [[check]] entries (accounts, units, packages, live kernel state).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "builder/audit/target.hpp"
#include "builder/hardening_profile.hpp"

namespace cairn::builder::audit {

enum class CheckStatus { pass, fail, skipped };
std::string_view check_status_name(CheckStatus status);

struct CheckResult {
  std::string id;        // "cmdline:intel_iommu", "sysctl:kernel.kptr_restrict", "mount:/tmp",
                         // "file:/etc/nftables.conf", "libvirt:qemu.conf:user", or a check's id
  std::string type;      // cmdline, sysctl, mount, file, libvirt, or the [[check]] type
  std::string expected;  // what the profile asks for, in words
  Tags tags;
  CheckStatus status = CheckStatus::skipped;
  std::string evidence;  // what was found (why it failed, or why it was skipped)

  void set(CheckStatus new_status, std::string new_evidence) {
    status = new_status;
    evidence = std::move(new_evidence);
  }
};

// Runs every check of `profile` against `target`. `vars` are the template variables the image
// was built with (for the files the profile installs).
std::vector<CheckResult> run_checks(const HardeningProfile& profile, const AuditTarget& target,
                                    const std::map<std::string, std::string>& vars);

// True when the mount options list ("rw,nodev,nosuid") has `option` in effect: "noexec" holds
// unless a later "exec" or "defaults" undoes it.
bool mount_option_in_effect(std::string_view options, std::string_view option);

}  // namespace cairn::builder::audit
