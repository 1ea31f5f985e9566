// A recipe: the declarative description of a golden image (recipes/*.toml). Loading validates
// everything up front so a build never fails half-way on a typo.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace cairn::builder {

struct AdminUser {
  std::string name;
  std::vector<std::string> ssh_keys;  // authorized_keys lines; never a password
  std::vector<std::string> groups;    // supplementary groups (must exist in the image)
};

struct DiskSizes {  // overrides of the layout's sizes, as written ("2G", "512M")
  std::optional<std::string> esp, root, verity, var;
};

struct Recipe {
  std::filesystem::path file;  // absolute path of the recipe
  std::string name;            // [a-z0-9-]+, names the ref and the artifacts
  std::string version;         // no '+' (boot counting uses it), no '/'
  std::string description;
  std::string arch = "x86_64";
  std::string machine_class;  // bundles must match it; default "<arch>-<name>"

  // [debian]
  std::string suite = "bookworm";
  std::vector<std::string> mirrors;  // empty: the build machine's own apt sources
  std::vector<std::string> components{"main"};
  std::vector<std::string> packages;

  std::filesystem::path overlay;  // absolute; empty when the recipe has none
  std::vector<AdminUser> users;
  std::string hardening_profile;  // name of hardening/<name>.toml; empty: none
  std::string disk_layout = "ab-disk";
  DiskSizes disk;
  std::vector<std::string> kernel_cmdline;  // extra parameters, after the profile's
  std::vector<std::string> initrd_drivers;  // extra kernel modules for dracut
  std::vector<std::string> enable_units;    // systemd units to enable
};

// Loads and validates a recipe. Relative paths in it are relative to the recipe's directory.
Expected<Recipe> load_recipe(const std::filesystem::path& path);

// The project's data directory (holding recipes/, hardening/, images/): CAIRN_DATA_DIR, else the
// source tree the binary was built from, else /usr/share/cairn.
std::filesystem::path data_dir();

}  // namespace cairn::builder
