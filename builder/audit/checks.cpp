#include "builder/audit/checks.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <sstream>

#include "builder/audit/explicit_checks.hpp"

namespace cairn::builder::audit {

namespace fs = std::filesystem;

namespace {

void pass(CheckResult& result, std::string evidence = {}) {
  result.set(CheckStatus::pass, std::move(evidence));
}
void fail(CheckResult& result, std::string evidence) {
  result.set(CheckStatus::fail, std::move(evidence));
}

CheckResult check_cmdline(const HardeningSetting& setting, const AuditTarget& target) {
  CheckResult result{.id = "cmdline:" + setting.key,
                     .type = "cmdline",
                     .expected = setting.value + " on the kernel command line",
                     .tags = setting.tags};
  if (!target.cmdline) {
    result.set(CheckStatus::skipped,
               "the kernel command line of a bare tree is unknown (audit the image or host)");
    return result;
  }
  auto found = cmdline_value(*target.cmdline, setting.key);
  auto accepted = [&](const std::string& param) {
    auto eq = param.find('=');
    return *found == (eq == std::string::npos ? "" : param.substr(eq + 1));
  };
  if (!found) {
    fail(result, setting.key + " is not on the command line");
  } else if (!accepted(setting.value) &&
             std::none_of(setting.accept.begin(), setting.accept.end(), accepted)) {
    fail(result, "the command line ends with " + setting.key + (found->empty() ? "" : "=") +
                     *found + " (the kernel takes the last one)");
  } else {
    pass(result, setting.key + (found->empty() ? "" : "=") + *found);
  }
  return result;
}

CheckResult check_sysctl(const HardeningSetting& setting, const AuditTarget& target,
                         const std::map<std::string, SysctlValue>& configured) {
  CheckResult result{.id = "sysctl:" + setting.key,
                     .type = "sysctl",
                     .expected = setting.key + " = " + setting.value,
                     .tags = setting.tags};
  if (target.live) {
    auto live = target.live->sysctl(setting.key);
    if (!live) {
      fail(result, "/proc/sys has no " + setting.key);
    } else if (normalize_space(*live) != normalize_space(setting.value)) {
      fail(result, "running kernel has " + setting.key + " = " + *live);
    } else {
      pass(result, "running kernel: " + *live);
    }
    return result;
  }
  auto found = configured.find(setting.key);
  if (found == configured.end()) {
    fail(result, "no sysctl.d file sets " + setting.key);
  } else if (normalize_space(found->second.value) != normalize_space(setting.value)) {
    fail(result, found->second.file + " sets " + setting.key + " = " + found->second.value);
  } else {
    pass(result, found->second.file);
  }
  return result;
}

CheckResult check_mount(const MountSetting& mount, const AuditTarget& target) {
  std::string wanted;
  for (const auto& option : mount.options) wanted += (wanted.empty() ? "" : ",") + option;
  CheckResult result{.id = "mount:" + mount.path,
                     .type = "mount",
                     .expected = mount.path + " mounted " + wanted,
                     .tags = mount.tags};
  auto options =
      target.live ? target.live->mount_options(mount.path) : fstab_options(target, mount.path);
  std::string where = target.live ? "mounted" : "in /etc/fstab";
  if (!options) {
    fail(result, mount.path + " is not " + where);
    return result;
  }
  std::string missing;
  for (const auto& option : mount.options) {
    if (!mount_option_in_effect(*options, option)) missing += (missing.empty() ? "" : ",") + option;
  }
  if (missing.empty()) {
    pass(result, where + ": " + *options);
  } else {
    fail(result, mount.path + " " + where + " with " + *options + " (missing " + missing + ")");
  }
  return result;
}

CheckResult check_file(const FileSetting& file, const AuditTarget& target,
                       const std::map<std::string, std::string>& vars) {
  CheckResult result{.id = "file:" + file.path,
                     .type = "file",
                     .expected = file.path + " as the profile writes it",
                     .tags = file.tags};
  auto content = read_target_file(target, file.path);
  if (!content) {
    fail(result, file.path + " is missing");
    return result;
  }
  auto rendered = render_template(file.content, vars);
  if (!rendered) {
    fail(result, "cannot render the profile's " + file.path + ": " + rendered.error().message());
    return result;
  }
  if (*content != *rendered) {
    fail(result, file.path + " differs from the profile's content");
    return result;
  }
  struct stat st {};
  fs::path real = target.root / fs::path(file.path).relative_path();
  if (::stat(real.c_str(), &st) == 0 && (st.st_mode & 07777) != file.mode) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "mode %04o, not %04o", st.st_mode & 07777, file.mode);
    fail(result, file.path + " has " + buffer);
    return result;
  }
  pass(result);
  return result;
}

CheckResult check_libvirt(const LibvirtSetting& setting, const AuditTarget& target) {
  std::string path = "/etc/libvirt/" + setting.file;
  CheckResult result{.id = "libvirt:" + setting.file + ":" + setting.key,
                     .type = "libvirt",
                     .expected = setting.key + " = " + setting.value + " in " + path,
                     .tags = setting.tags};
  auto text = read_target_file(target, path);
  if (!text) {
    fail(result, path + " is missing");
    return result;
  }
  std::vector<std::string> values;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    auto begin = line.find_first_not_of(" \t");
    if (begin == std::string::npos || line[begin] == '#') continue;
    auto eq = line.find('=', begin);
    if (eq == std::string::npos || normalize_space(line.substr(begin, eq - begin)) != setting.key) {
      continue;
    }
    values.push_back(normalize_space(line.substr(eq + 1)));
  }
  if (values.empty()) {
    fail(result, path + " does not set " + setting.key + " (libvirt's default applies)");
  } else if (values.size() > 1) {
    fail(result, path + " sets " + setting.key + " " + std::to_string(values.size()) + " times");
  } else if (values[0] != normalize_space(setting.value)) {
    fail(result, path + " sets " + setting.key + " = " + values[0]);
  } else {
    pass(result, path);
  }
  return result;
}

}  // namespace

std::string_view check_status_name(CheckStatus status) {
  switch (status) {
    case CheckStatus::pass:
      return "pass";
    case CheckStatus::fail:
      return "fail";
    case CheckStatus::skipped:
      return "skipped";
  }
  return "?";
}

bool mount_option_in_effect(std::string_view options, std::string_view option) {
  bool negative = option.starts_with("no");
  std::string positive(negative ? option.substr(2) : option);
  bool in_effect = false;
  std::istringstream stream{std::string(options)};
  for (std::string word; std::getline(stream, word, ',');) {
    if (word == option) in_effect = true;
    if (negative && (word == positive || word == "defaults")) in_effect = false;
  }
  return in_effect;
}

std::vector<CheckResult> run_checks(const HardeningProfile& profile, const AuditTarget& target,
                                    const std::map<std::string, std::string>& vars) {
  std::vector<CheckResult> results;
  auto configured = configured_sysctls(target);
  for (const auto& setting : profile.settings) {
    results.push_back(setting.kind == "cmdline" ? check_cmdline(setting, target)
                                                : check_sysctl(setting, target, configured));
  }
  for (const auto& mount : profile.mounts) results.push_back(check_mount(mount, target));
  for (const auto& file : profile.files) results.push_back(check_file(file, target, vars));
  for (const auto& setting : profile.libvirt) results.push_back(check_libvirt(setting, target));
  for (const auto& check : profile.checks) results.push_back(run_explicit_check(check, target));
  return results;
}

}  // namespace cairn::builder::audit
