#include "builder/audit/explicit_checks.hpp"

#include <sstream>

namespace cairn::builder::audit {

namespace fs = std::filesystem;

namespace {

using enum CheckStatus;

bool locked(const std::string& field) { return field.starts_with("!") || field.starts_with("*"); }

void root_locked(CheckResult& result, const AuditTarget& target) {
  for (const auto& [user, field] : shadow_entries(target)) {
    if (user != "root") continue;
    if (locked(field)) return result.set(pass, "root's password field is '" + field + "'");
    return result.set(fail, field.empty() ? "root has an empty password (login without one)"
                                          : "root has a password hash");
  }
  result.set(fail, "/etc/shadow has no root entry");
}

void no_passwords(CheckResult& result, const AuditTarget& target) {
  auto entries = shadow_entries(target);
  if (entries.empty()) return result.set(fail, "/etc/shadow is missing or empty");
  std::string with_password;
  for (const auto& [user, field] : entries) {
    if (!locked(field)) {
      with_password += (with_password.empty() ? "" : ", ") + user +
                       (field.empty() ? " (empty password)" : " (password hash)");
    }
  }
  if (with_password.empty()) {
    return result.set(pass, std::to_string(entries.size()) + " accounts, none with a password");
  }
  result.set(fail, "accounts with a usable password: " + with_password);
}

void no_host_keys(CheckResult& result, const AuditTarget& target) {
  std::string found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(target.root / "etc/ssh", ec)) {
    auto name = entry.path().filename().string();
    if (name.starts_with("ssh_host_")) found += (found.empty() ? "" : ", ") + name;
  }
  if (found.empty()) return result.set(pass, "/etc/ssh holds no host key");
  result.set(fail, "host keys baked into the image: " + found);
}

void unit_enabled(CheckResult& result, const AuditTarget& target, const std::string& unit) {
  std::error_code ec;
  auto mask = target.root / "etc/systemd/system" / unit;
  if (fs::is_symlink(mask, ec) && fs::read_symlink(mask, ec) == "/dev/null") {
    return result.set(fail, unit + " is masked");
  }
  for (const char* dir : {"etc/systemd/system", "usr/lib/systemd/system"}) {
    for (const auto& entry : fs::directory_iterator(target.root / dir, ec)) {
      auto name = entry.path().filename().string();
      if (!name.ends_with(".wants") && !name.ends_with(".requires")) continue;
      if (fs::exists(fs::symlink_status(entry.path() / unit, ec))) {
        return result.set(pass, "/" + std::string(dir) + "/" + name + "/" + unit);
      }
    }
  }
  result.set(fail, unit + " is not enabled");
}

void package_installed(CheckResult& result, const AuditTarget& target, const std::string& name) {
  // A built tree keeps /var under /usr/share/factory/var until the host's first boot.
  for (const char* status_file :
       {"/var/lib/dpkg/status", "/usr/share/factory/var/lib/dpkg/status"}) {
    auto text = read_target_file(target, status_file);
    if (!text) continue;
    std::istringstream paragraphs(*text);
    std::string line, package, state;
    auto matches = [&] { return package == name && state.ends_with(" installed"); };
    while (std::getline(paragraphs, line)) {
      if (line.starts_with("Package: ")) package = line.substr(9);
      if (line.starts_with("Status: ")) state = line.substr(8);
      if (line.empty()) {
        if (matches()) break;
        package.clear();
        state.clear();
      }
    }
    if (matches()) return result.set(pass, name + " installed");
    return result.set(fail, name + " is not installed");
  }
  result.set(fail, "no dpkg status in the target");
}

void has_line(CheckResult& result, const AuditTarget& target, const CheckSpec& check) {
  auto text = read_target_file(target, check.path);
  if (!text) return result.set(fail, check.path + " is missing");
  std::istringstream lines(*text);
  auto wanted = normalize_space(check.value);
  for (std::string line; std::getline(lines, line);) {
    if (normalize_space(line) == wanted) return result.set(pass, check.path);
  }
  result.set(fail, check.path + " has no line \"" + check.value + "\"");
}

void live_check(CheckResult& result, const AuditTarget& target, const CheckSpec& check) {
  if (!target.live) {
    return result.set(skipped, "live value: audit the running host (cairn-build audit /)");
  }
  const LiveHost& live = *target.live;
  if (check.type == "iommu-active") {
    auto groups = live.iommu_groups();
    if (groups && *groups > 0) {
      return result.set(pass, std::to_string(*groups) + " IOMMU groups");
    }
    return result.set(fail, "no IOMMU groups in /sys/kernel/iommu_groups: the IOMMU is off");
  }
  if (check.type == "secure-boot") {
    auto on = live.secure_boot();
    if (!on) return result.set(fail, "no SecureBoot EFI variable (not booted by UEFI?)");
    return result.set(*on ? pass : fail, *on ? "Secure Boot on" : "Secure Boot off");
  }
  if (check.type == "lockdown") {
    auto mode = live.lockdown();
    if (!mode) return result.set(fail, "/sys/kernel/security/lockdown is not readable");
    bool on = mode->find("[integrity]") != std::string::npos ||
              mode->find("[confidentiality]") != std::string::npos;
    return result.set(on ? pass : fail, "lockdown: " + *mode);
  }
  // nested-off
  for (const char* module : {"kvm_intel", "kvm_amd"}) {
    auto nested = live.module_parameter(module, "nested");
    if (!nested) continue;
    bool off = *nested == "N" || *nested == "0";
    return result.set(off ? pass : fail, std::string(module) + " nested=" + *nested);
  }
  result.set(skipped, "neither kvm_intel nor kvm_amd is loaded");
}

}  // namespace

CheckResult run_explicit_check(const CheckSpec& check, const AuditTarget& target) {
  CheckResult result{.id = check.id, .type = check.type, .tags = check.tags};
  const std::string& type = check.type;
  if (type == "root-locked") {
    result.expected = "root's password is locked";
    root_locked(result, target);
  } else if (type == "no-passwords") {
    result.expected = "no account has a usable password";
    no_passwords(result, target);
  } else if (type == "no-host-keys") {
    result.expected = "no SSH host key in the image (made on first boot)";
    no_host_keys(result, target);
  } else if (type == "unit-enabled") {
    result.expected = check.value + " enabled";
    unit_enabled(result, target, check.value);
  } else if (type == "package") {
    result.expected = "package " + check.value + " installed";
    package_installed(result, target, check.value);
  } else if (type == "line") {
    result.expected = "\"" + check.value + "\" in " + check.path;
    has_line(result, target, check);
  } else {
    result.expected = type == "iommu-active"  ? "the IOMMU is active"
                      : type == "secure-boot" ? "booted with Secure Boot on"
                      : type == "lockdown"    ? "kernel lockdown in integrity mode or stricter"
                                              : "nested virtualization off in the KVM module";
    live_check(result, target, check);
  }
  return result;
}

}  // namespace cairn::builder::audit
