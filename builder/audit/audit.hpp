// `cairn-build audit TARGET`: checks an image against its hardening profile and reports every
// control point. TARGET is a build directory (out/<recipe>/<version>/: its erofs slot mounted
// read-only, the command line from the UKI's .cmdline), a root file system tree, or `/` on a
// running host (then live kernel state is checked too).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "builder/audit/report.hpp"
#include "common/process.hpp"

namespace cairn::builder::audit {

struct AuditOptions {
  std::filesystem::path target;
  std::string profile;                  // empty: the one the image records (hardening.json)
  std::optional<std::string> cmdline;   // for a bare tree: the command line it boots with
  std::filesystem::path hardening_dir;  // holding <profile>.toml and controls/
  // A copy of a running host's /proc and /sys files (see the README): audit TARGET (that host's
  // image) together with the kernel state recorded there, as if run on the host itself.
  std::filesystem::path live_root;
};

// Runs the profile's checks on an opened target.
ComplianceReport run_audit(const HardeningProfile& profile, const ControlCatalogue& catalogue,
                           const AuditTarget& target,
                           const std::map<std::string, std::string>& vars);

// Opens TARGET, resolves the profile and audits it. Mounting an image's slot needs root.
Expected<ComplianceReport> audit_path(const AuditOptions& options, ProcessRunner& runner);

// The .cmdline section of a UKI.
Expected<std::string> uki_cmdline(const std::filesystem::path& uki);

}  // namespace cairn::builder::audit
