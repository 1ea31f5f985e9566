#include "builder/stages/harden.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "builder/audit/checks.hpp"
#include "common/fs.hpp"

namespace cairn::builder {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kSysctlFile = "/usr/lib/sysctl.d/99-zz-cairn-hardening.conf";

fs::path in_tree(const fs::path& tree, std::string_view path) {
  return tree / fs::path(std::string(path)).relative_path();
}

Status write_in_tree(const fs::path& tree, std::string_view path, std::string_view text,
                     unsigned mode = 0644) {
  fs::path target = in_tree(tree, path);
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  if (ec) return fail(Errc::io, "create " + target.parent_path().string() + ": " + ec.message());
  // A new inode: the file may be a hard link shared with the cached base tree.
  fs::remove(target, ec);
  CAIRN_CHECK(write_file_atomic(target, text, mode));
  // write_file_atomic's mode is filtered by the umask; the profile's mode is exact.
  fs::permissions(target, fs::perms(mode), ec);
  if (ec) return fail(Errc::io, "chmod " + target.string() + ": " + ec.message());
  return {};
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : std::string(separator)) + item;
  return out;
}

}  // namespace

std::map<std::string, std::string> hardening_variables(const Recipe& recipe) {
  std::map<std::string, std::string> vars = {
      {"migration", recipe.migration ? "true" : "false"},
      {"nested", recipe.nested_virtualization ? "1" : "0"},
      {"migration_ports_rule", "# live migration off: the recipe does not enable it"}};
  if (!recipe.admin_interface.empty()) {
    vars["admin_interface"] = recipe.admin_interface;
    if (recipe.migration) {
      // QEMU's default migration port range (libvirt's migration_port_min/max).
      vars["migration_ports_rule"] =
          "iifname \"" + recipe.admin_interface + "\" tcp dport 49152-49215 accept";
    }
  }
  return vars;
}

Expected<std::string> merge_fstab(std::string_view fstab, const MountSetting& mount) {
  std::istringstream lines{std::string(fstab)};
  std::string out;
  bool found = false;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::vector<std::string> fields;
    for (std::string word; words >> word;) fields.push_back(word);
    if (fields.size() >= 4 && !fields[0].starts_with("#") && fields[1] == mount.path) {
      found = true;
      std::string options = fields[3];
      for (const auto& option : mount.options) {
        if (!audit::mount_option_in_effect(options, option)) options += "," + option;
      }
      // Replace the options column in place, keeping the line's alignment otherwise.
      auto at = line.find(fields[3], line.find(fields[2], line.find(fields[1])));
      line.replace(at, fields[3].size(), options);
    }
    out += line + "\n";
  }
  if (!found) {
    if (mount.source.empty() || mount.fstype.empty()) {
      return fail(Errc::invalid_input, "fstab has no line for " + mount.path +
                                           " and the profile gives no source and fstype (" +
                                           mount.tags.source + ")");
    }
    out += mount.source + "  " + mount.path + "  " + mount.fstype + "  " +
           join(mount.options, ",") + "  0  0\n";
  }
  return out;
}

std::string set_libvirt_key(std::string_view conf, const LibvirtSetting& setting) {
  std::istringstream lines{std::string(conf)};
  std::string out;
  for (std::string line; std::getline(lines, line);) {
    auto begin = line.find_first_not_of(" \t");
    auto eq = line.find('=');
    if (begin != std::string::npos && line[begin] != '#' && eq != std::string::npos &&
        audit::normalize_space(line.substr(begin, eq - begin)) == setting.key) {
      line = "#cairn: " + line;
    }
    out += line + "\n";
  }
  out += "\n# Cairn hardening profile '" + setting.tags.profile + "' (" +
         join(setting.tags.controls, ", ") + ")" +
         (setting.tags.why.empty() ? "" : ": " + setting.tags.why) + "\n";
  out += setting.key + " = " + setting.value + "\n";
  return out;
}

Status apply_hardening(const HardeningProfile& profile,
                       const std::map<std::string, std::string>& vars, const fs::path& tree) {
  bool has_sysctls = std::any_of(profile.settings.begin(), profile.settings.end(),
                                 [](const HardeningSetting& s) { return s.kind == "sysctl"; });
  if (has_sysctls) {
    // systemd-sysctl applies files in name order: after Debian's 99-protect-links.conf (procps,
    // fs.protected_fifos = 1) and 99-sysctl.conf, so the profile's values are the ones in effect.
    CAIRN_CHECK(write_in_tree(tree, kSysctlFile, profile.sysctl_conf()));
  }
  if (!profile.mounts.empty()) {
    auto fstab = read_file(tree / "etc/fstab").value_or("");
    for (const auto& mount : profile.mounts) fstab = CAIRN_TRY(merge_fstab(fstab, mount));
    CAIRN_CHECK(write_in_tree(tree, "/etc/fstab", fstab));
  }
  for (const auto& file : profile.files) {
    auto content = CAIRN_TRY(
        with_context(render_template(file.content, vars),
                     "hardening profile '" + file.tags.profile + "', " + file.path + " (" +
                         file.tags.source + ")" +
                         (file.content.find("{{admin_interface}}") != std::string::npos
                              ? ": the recipe must name its administration interface ([network] "
                                "admin_interface)"
                              : "")));
    CAIRN_CHECK(write_in_tree(tree, file.path, content, file.mode));
  }
  for (const auto& setting : profile.libvirt) {
    fs::path conf = tree / "etc/libvirt" / setting.file;
    auto text = read_file(conf);
    if (!text) {
      return fail(Errc::not_found, "hardening profile '" + setting.tags.profile + "' sets " +
                                       setting.key + " in /etc/libvirt/" + setting.file +
                                       ", which the image does not have (" + setting.tags.source +
                                       "): install libvirt-daemon-system");
    }
    CAIRN_CHECK(
        write_in_tree(tree, "/etc/libvirt/" + setting.file, set_libvirt_key(*text, setting)));
  }
  nlohmann::json record = {
      {"profile", profile.name}, {"chain", profile.chain}, {"variables", vars}};
  return write_in_tree(tree, kHardeningRecord, record.dump(2) + "\n");
}

}  // namespace cairn::builder
