// Hardening profiles (hardening/*.toml): settings as data, each tagged with the control points it
// serves, resolved through `extends` into one flat list.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace cairn::builder {

struct HardeningSetting {
  std::string kind;   // "cmdline" or "sysctl"
  std::string key;    // sysctl name; for cmdline, the parameter name
  std::string value;  // for cmdline, the whole parameter ("iommu.strict=1")
  std::vector<std::string> controls;
  std::string why;
  std::string profile;  // the file it came from
};

struct HardeningProfile {
  std::string name;
  std::vector<std::string> chain;  // base first
  std::vector<HardeningSetting> settings;

  std::vector<std::string> cmdline() const;
  // The /etc/sysctl.d file contents, each line preceded by its control points.
  std::string sysctl_conf() const;
};

// Loads `<dir>/<name>.toml` and what it extends. A cycle or unknown profile is an error.
Expected<HardeningProfile> load_hardening_profile(const std::filesystem::path& dir,
                                                  const std::string& name);

}  // namespace cairn::builder
