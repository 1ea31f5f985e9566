// Hardening profiles (hardening/*.toml): settings as data, each tagged with the control points it
// serves, resolved through `extends` into one flat list. Besides what the image is given (kernel
// command line, sysctls, mount options, files, libvirt settings) a profile lists the checks the
// audit runs (`cairn-build audit`), so the same file says what is done and how it is proven.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace cairn::builder {

// What every entry carries: the control points it serves and why.
struct Tags {
  std::vector<std::string> controls;  // "DAT-NT-011:R4", "BP-028:R12", "KSPP"
  std::string why;
  std::string profile;   // the file it came from
  bool required = true;  // false: reported, but a failure does not fail the audit
  std::string source;    // "<file>:<line>", for messages
};

struct HardeningSetting {  // [[cmdline]] and [[sysctl]]
  std::string kind;        // "cmdline" or "sysctl"
  std::string key;         // sysctl name; for cmdline, the parameter name
  std::string value;       // for cmdline, the whole parameter ("iommu.strict=1")
  // cmdline: other whole parameters the audit accepts in its place, because they are stricter
  // ("mitigations=auto,nosmt" for "mitigations=auto"); the build writes `value`.
  std::vector<std::string> accept;
  Tags tags;
};

struct MountSetting {  // [[mount]]: options a mount point must have (merged into /etc/fstab)
  std::string path;    // "/tmp"
  std::string source, fstype;  // for a mount point fstab does not list yet
  std::vector<std::string> options;
  Tags tags;
};

struct FileSetting {  // [[file]]: a file the profile installs (content may use {{variables}})
  std::string path;   // absolute, inside the image
  std::string content;
  unsigned mode = 0644;
  Tags tags;
};

struct LibvirtSetting {  // [[libvirt]]: `key = value` in /etc/libvirt/<file>
  std::string file;      // "qemu.conf", "libvirtd.conf"
  std::string key;
  std::string value;  // as libvirt reads it: 1, "libvirt-qemu", [ "polkit" ]
  Tags tags;
};

struct CheckSpec {    // [[check]]: what the audit verifies beyond the settings themselves
  std::string id;     // unique in the resolved profile
  std::string type;   // see kCheckTypes in hardening_profile.cpp
  std::string path;   // for "line"
  std::string value;  // unit, package, line, user
  Tags tags;
};

struct HardeningProfile {
  std::string name;
  std::vector<std::string> chain;  // base first
  std::vector<HardeningSetting> settings;
  std::vector<MountSetting> mounts;
  std::vector<FileSetting> files;
  std::vector<LibvirtSetting> libvirt;
  std::vector<CheckSpec> checks;

  std::vector<std::string> cmdline() const;
  // The /etc/sysctl.d file contents, each line preceded by its control points.
  std::string sysctl_conf() const;
  // Every control id any entry names.
  std::vector<std::string> control_ids() const;
  bool empty() const;
};

// Loads `<dir>/<name>.toml` and what it extends. A cycle or unknown profile is an error.
Expected<HardeningProfile> load_hardening_profile(const std::filesystem::path& dir,
                                                  const std::string& name);

// Replaces {{name}} in `text` with vars[name]; an unknown variable is an error.
Expected<std::string> render_template(std::string_view text,
                                      const std::map<std::string, std::string>& vars);

}  // namespace cairn::builder
