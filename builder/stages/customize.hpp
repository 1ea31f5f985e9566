// Stage 2: turn the Debian tree into a Cairn image tree — overlay, hardening, admin users
// (keys only), no machine identity or SSH host keys baked in, /var seeded from a factory copy,
// and a reproducible dracut initrd that opens the dm-verity root.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "builder/hardening_profile.hpp"
#include "builder/recipe.hpp"
#include "common/process.hpp"
#include "common/progress.hpp"

namespace cairn::builder {

struct CustomizeInput {
  std::filesystem::path base_tree;  // the cached rootfs; never modified
  std::filesystem::path work_dir;   // the copy is made at work_dir/tree
  std::filesystem::path overlay;    // may be empty
  std::vector<AdminUser> users;
  const HardeningProfile* profile = nullptr;          // null: no hardening profile
  std::map<std::string, std::string> hardening_vars;  // see hardening_variables()
  std::vector<std::string> enable_units;
  std::vector<std::string> disable_units;
  std::vector<std::string> initrd_drivers;
  std::string image_name, image_version;
  std::uint64_t image_security_version = 0;
  std::int64_t source_date_epoch = 0;
};

struct CustomizeOutput {
  std::filesystem::path tree;
  std::string kernel_version;         // "6.1.0-…-amd64"
  std::filesystem::path kernel;       // inside tree
  std::filesystem::path initrd;       // inside tree: usr/lib/modules/<kver>/initrd
  std::string os_release;             // contents of usr/lib/os-release, image fields added
  std::vector<std::string> packages;  // "name=version", sorted
};

Expected<CustomizeOutput> customize_tree(const CustomizeInput& input, ProcessRunner& runner,
                                         Progress& progress);

// os-release with IMAGE_ID/IMAGE_VERSION/PRETTY_NAME for the image and its security version
// (CAIRN_SECURITY_VERSION, the anti-rollback floor a host running it enforces), pure, for tests.
std::string image_os_release(std::string_view debian_os_release, std::string_view name,
                             std::string_view version, std::uint64_t security_version);

// tmpfiles.d lines that recreate `var_dir`'s layout from /usr/share/factory/var on first boot.
Expected<std::string> factory_var_tmpfiles(const std::filesystem::path& var_dir);

}  // namespace cairn::builder
