// A recipe: the declarative description of a golden image (recipes/*.toml). Loading validates
// everything up front so a build never fails half-way on a typo.
#pragma once

#include <cstdint>
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
  // "admin": host administrator (group cairn-admin, sudo); "operator": VM operator (group
  // cairn-vm-operator: runs and looks at domains through libvirt, no sudo) — DAT-NT-011 R7.
  std::string role = "admin";
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
  // Anti-rollback floor carried by this image's update bundles: hosts refuse bundles below the
  // highest they have installed. Raise it with every security fix. Default 1.
  std::uint64_t security_version = 1;

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
  std::vector<std::string> disable_units;  // units the packages enabled that the host does not want

  // [network] admin_interface: the one interface sshd (and libvirt's remote access over SSH)
  // is reachable on; the hardening profile's firewall denies everything else. Empty: none named.
  std::string admin_interface;
  // [virtualization]: DAT-NT-011 R3 wants live migration off unless it is needed; nested
  // virtualization gives guests the host's VMX/SVM and is off unless the recipe needs it.
  bool migration = false;
  bool nested_virtualization = false;
};

// Loads and validates a recipe. Relative paths in it are relative to the recipe's directory.
Expected<Recipe> load_recipe(const std::filesystem::path& path);

// The project's data directory (holding recipes/, hardening/, images/): CAIRN_DATA_DIR, else the
// source tree the binary was built from, else /usr/share/cairn.
std::filesystem::path data_dir();

}  // namespace cairn::builder
