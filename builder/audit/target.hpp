// What an audit looks at: a file tree (a rootfs, a checkout or mounted slot of a built image, or
// `/` of a running host), the kernel command line the image boots with, and — on a running host
// only — the live kernel state behind the LiveHost seam.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace cairn::builder::audit {

// The running kernel's state. Every method returns nullopt when the value cannot be read (not
// mounted, no such module), which a check reports as evidence rather than guessing.
class LiveHost {
 public:
  virtual ~LiveHost() = default;
  virtual std::optional<std::string> cmdline() const = 0;                     // /proc/cmdline
  virtual std::optional<std::string> sysctl(std::string_view key) const = 0;  // /proc/sys/…
  // Mount options of the mount at `path` ("rw,nosuid,nodev"), from /proc/self/mountinfo.
  virtual std::optional<std::string> mount_options(std::string_view path) const = 0;
  virtual std::optional<std::string> lockdown() const = 0;  // "none [integrity] confidentiality"
  virtual std::optional<bool> secure_boot() const = 0;      // the SecureBoot EFI variable
  virtual std::optional<std::size_t> iommu_groups() const = 0;
  // A module parameter ("kvm_intel", "nested"); nullopt when the module is not loaded.
  virtual std::optional<std::string> module_parameter(std::string_view module,
                                                      std::string_view parameter) const = 0;
};

// Reads /proc and /sys below `root` ("/" on a host; a fixture directory in tests).
class ProcSysLiveHost final : public LiveHost {
 public:
  explicit ProcSysLiveHost(std::filesystem::path root = "/") : root_(std::move(root)) {}
  std::optional<std::string> cmdline() const override;
  std::optional<std::string> sysctl(std::string_view key) const override;
  std::optional<std::string> mount_options(std::string_view path) const override;
  std::optional<std::string> lockdown() const override;
  std::optional<bool> secure_boot() const override;
  std::optional<std::size_t> iommu_groups() const override;
  std::optional<std::string> module_parameter(std::string_view module,
                                              std::string_view parameter) const override;

 private:
  std::optional<std::string> read(const std::filesystem::path& relative) const;
  std::filesystem::path root_;
};

struct AuditTarget {
  std::string kind;            // "image", "tree" or "host"
  std::string description;     // what was named on the command line
  std::filesystem::path root;  // the file tree
  // The kernel command line the image boots with: the UKI's .cmdline, the build's, or
  // /proc/cmdline. nullopt: unknown (a bare tree), and command-line checks are skipped.
  std::optional<std::string> cmdline;
  const LiveHost* live = nullptr;  // set for "host" only
};

// Reading the tree (paths are absolute inside the target: "/etc/fstab").
std::optional<std::string> read_target_file(const AuditTarget& target, std::string_view path);
bool target_exists(const AuditTarget& target, std::string_view path);

// The values systemd-sysctl would apply from the tree's sysctl.d directories and sysctl.conf
// (files ordered by name, /etc over /run over /usr/lib, later assignments win), with the file
// that set each one.
struct SysctlValue {
  std::string value, file;
};
std::map<std::string, SysctlValue> configured_sysctls(const AuditTarget& target);

// The options of the fstab line for `mount_point` ("" when it has none).
std::optional<std::string> fstab_options(const AuditTarget& target, std::string_view mount_point);

// `/etc/shadow` as user → password field.
std::vector<std::pair<std::string, std::string>> shadow_entries(const AuditTarget& target);

// `text` with runs of white space made one space, trimmed.
std::string normalize_space(std::string_view text);

// The last value given to parameter `key` on `cmdline` ("intel_iommu=on" → "on"; a bare flag
// gives ""), nullopt when absent. The kernel takes the last one.
std::optional<std::string> cmdline_value(std::string_view cmdline, std::string_view key);

}  // namespace cairn::builder::audit
