#include "builder/audit/target.hpp"

#include <algorithm>
#include <sstream>

#include "common/fs.hpp"

namespace cairn::builder::audit {

namespace fs = std::filesystem;

namespace {

fs::path inside(const fs::path& root, std::string_view path) {
  std::string relative(path);
  while (relative.starts_with("/")) relative.erase(0, 1);
  return root / relative;
}

std::string trim(std::string_view text) {
  auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  auto end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

std::vector<std::string> split_whitespace(std::string_view text) {
  std::vector<std::string> words;
  std::istringstream stream{std::string(text)};
  for (std::string word; stream >> word;) words.push_back(word);
  return words;
}

}  // namespace

std::optional<std::string> ProcSysLiveHost::read(const fs::path& relative) const {
  auto text = read_file(root_ / relative);
  if (!text) return std::nullopt;
  return *text;
}

std::optional<std::string> ProcSysLiveHost::cmdline() const {
  auto text = read("proc/cmdline");
  if (text) *text = trim(*text);
  return text;
}

std::optional<std::string> ProcSysLiveHost::sysctl(std::string_view key) const {
  std::string path(key);
  std::replace(path.begin(), path.end(), '.', '/');
  auto text = read(fs::path("proc/sys") / path);
  if (text) *text = trim(*text);
  return text;
}

std::optional<std::string> ProcSysLiveHost::mount_options(std::string_view path) const {
  auto text = read("proc/self/mountinfo");
  if (!text) return std::nullopt;
  // "36 35 98:0 / /mnt1 rw,noatime master:1 - ext3 /dev/root rw,errors=continue"; the last
  // mount on a path is the one in effect.
  std::optional<std::string> options;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    auto fields = split_whitespace(line);
    if (fields.size() > 5 && fields[4] == path) options = fields[5];
  }
  return options;
}

std::optional<std::string> ProcSysLiveHost::lockdown() const {
  auto text = read("sys/kernel/security/lockdown");
  if (text) *text = trim(*text);
  return text;
}

std::optional<bool> ProcSysLiveHost::secure_boot() const {
  // efivarfs: 4 bytes of attributes, then the variable's one byte.
  auto bytes = read("sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c");
  if (!bytes || bytes->size() < 5) return std::nullopt;
  return (*bytes)[4] == 1;
}

std::optional<std::size_t> ProcSysLiveHost::iommu_groups() const {
  std::error_code ec;
  fs::directory_iterator it(root_ / "sys/kernel/iommu_groups", ec);
  if (ec) return std::nullopt;
  return static_cast<std::size_t>(std::distance(it, fs::directory_iterator{}));
}

std::optional<std::string> ProcSysLiveHost::module_parameter(std::string_view module,
                                                             std::string_view parameter) const {
  auto text = read(fs::path("sys/module") / module / "parameters" / parameter);
  if (text) *text = trim(*text);
  return text;
}

std::optional<std::string> read_target_file(const AuditTarget& target, std::string_view path) {
  auto text = read_file(inside(target.root, path));
  if (!text) return std::nullopt;
  return *text;
}

bool target_exists(const AuditTarget& target, std::string_view path) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(inside(target.root, path), ec));
}

std::map<std::string, SysctlValue> configured_sysctls(const AuditTarget& target) {
  // systemd-sysctl: a file name in /etc hides the same name in /run and /usr/lib; all files are
  // applied in name order; /etc/sysctl.conf last.
  std::map<std::string, std::string> by_name;  // file name → path inside the target
  for (const char* dir : {"/usr/lib/sysctl.d", "/run/sysctl.d", "/etc/sysctl.d"}) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(inside(target.root, dir), ec)) {
      if (entry.path().extension() != ".conf") continue;
      by_name[entry.path().filename().string()] =
          std::string(dir) + "/" + entry.path().filename().string();
    }
  }
  std::vector<std::string> files;
  for (const auto& [name, path] : by_name) files.push_back(path);
  files.push_back("/etc/sysctl.conf");
  std::map<std::string, SysctlValue> values;
  for (const auto& file : files) {
    auto text = read_target_file(target, file);
    if (!text) continue;
    std::istringstream lines(*text);
    for (std::string line; std::getline(lines, line);) {
      line = trim(line);
      if (line.empty() || line[0] == '#' || line[0] == ';') continue;
      auto eq = line.find('=');
      if (eq == std::string::npos) continue;
      std::string key = trim(line.substr(0, eq));
      if (key.starts_with("-")) key.erase(0, 1);
      std::replace(key.begin(), key.end(), '/', '.');
      values[key] = {trim(line.substr(eq + 1)), file};
    }
  }
  return values;
}

std::optional<std::string> fstab_options(const AuditTarget& target, std::string_view mount_point) {
  auto text = read_target_file(target, "/etc/fstab");
  if (!text) return std::nullopt;
  std::optional<std::string> options;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    auto fields = split_whitespace(line);
    if (fields.size() < 3 || fields[0].starts_with("#")) continue;
    if (fields[1] == mount_point) options = fields.size() > 3 ? fields[3] : "defaults";
  }
  return options;
}

std::vector<std::pair<std::string, std::string>> shadow_entries(const AuditTarget& target) {
  std::vector<std::pair<std::string, std::string>> entries;
  auto text = read_target_file(target, "/etc/shadow");
  if (!text) return entries;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto next = line.find(':', colon + 1);
    entries.emplace_back(line.substr(0, colon), line.substr(colon + 1, next - colon - 1));
  }
  return entries;
}

std::string normalize_space(std::string_view text) {
  std::string out;
  for (const auto& word : split_whitespace(text)) out += (out.empty() ? "" : " ") + word;
  return out;
}

std::optional<std::string> cmdline_value(std::string_view cmdline, std::string_view key) {
  std::optional<std::string> value;
  for (const auto& word : split_whitespace(cmdline)) {
    auto eq = word.find('=');
    if (word.substr(0, eq) != key) continue;
    value = eq == std::string::npos ? "" : word.substr(eq + 1);
  }
  return value;
}

}  // namespace cairn::builder::audit
