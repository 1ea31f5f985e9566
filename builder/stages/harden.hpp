// Part of stage 2 (customize): writes a hardening profile into the image tree — the sysctl.d
// file, mount options merged into /etc/fstab, the files the profile installs (templates filled
// from the recipe), libvirt settings, and /usr/lib/cairn/hardening.json naming the profile and
// the variables used, so `cairn-build audit` knows what the image was built to.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "builder/hardening_profile.hpp"
#include "builder/recipe.hpp"

namespace cairn::builder {

// Where the image records its profile and template variables.
inline constexpr std::string_view kHardeningRecord = "/usr/lib/cairn/hardening.json";

// The template variables a profile's files may use, from the recipe: admin_interface (only when
// the recipe names one), migration ("true"/"false"), nested ("1"/"0"), migration_ports_rule
// (the nftables rule opening QEMU's migration ports on the admin interface, or a comment).
std::map<std::string, std::string> hardening_variables(const Recipe& recipe);

Status apply_hardening(const HardeningProfile& profile,
                       const std::map<std::string, std::string>& vars,
                       const std::filesystem::path& tree);

// `fstab` with `options` in effect on `mount_point`: missing options are appended to its line, or
// a line "source mount_point fstype options 0 0" is added (pure, for tests).
Expected<std::string> merge_fstab(std::string_view fstab, const MountSetting& mount);

// `conf` (a libvirt configuration file) with every active assignment of `key` commented out
// and `key = value` appended under a comment naming its control points (pure, for tests).
std::string set_libvirt_key(std::string_view conf, const LibvirtSetting& setting);

}  // namespace cairn::builder
