#include "builder/hardening_profile.hpp"

#include <algorithm>
#include <set>

#include "common/toml_reader.hpp"

namespace cairn::builder {

namespace fs = std::filesystem;

namespace {

// The check types the audit implements (builder/audit/checks.cpp), and what each needs.
struct CheckType {
  std::string_view name;
  bool needs_value, needs_path;
};
constexpr CheckType kCheckTypes[] = {
    {"root-locked", false, false},  {"no-passwords", false, false}, {"no-host-keys", false, false},
    {"unit-enabled", true, false},  {"package", true, false},       {"line", true, true},
    {"iommu-active", false, false}, {"secure-boot", false, false},  {"lockdown", false, false},
    {"nested-off", false, false},
};

Expected<Tags> read_tags(TableReader& reader, const std::string& profile) {
  Tags tags{.profile = profile};
  tags.source = reader.where("controls");
  tags.source.resize(tags.source.size() - 2);  // "file:line: " → "file:line"
  tags.controls = CAIRN_TRY(reader.string_array("controls"));
  if (tags.controls.empty()) {
    return fail(Errc::invalid_input, reader.where("controls") + "'" + reader.qualified("controls") +
                                         "' must name the control point(s) the setting serves");
  }
  tags.why = CAIRN_TRY(reader.optional_string("why")).value_or("");
  tags.required = CAIRN_TRY(reader.optional_bool("required")).value_or(true);
  return tags;
}

Status require_absolute(const TableReader& reader, std::string_view key, const std::string& path) {
  if (path.starts_with("/") && path.find("..") == std::string::npos) return {};
  return fail(Errc::invalid_input, reader.where(key) + "'" + reader.qualified(key) +
                                       "' must be an absolute path without '..', not \"" + path +
                                       "\"");
}

Expected<HardeningSetting> read_setting(TableReader& reader, const std::string& kind,
                                        const std::string& profile) {
  HardeningSetting setting{.kind = kind};
  if (kind == "sysctl") {
    setting.key = CAIRN_TRY(reader.string("key"));
    setting.value = CAIRN_TRY(reader.string("value"));
  } else {
    setting.value = CAIRN_TRY(reader.string("value"));
    setting.key = setting.value.substr(0, setting.value.find('='));
    setting.accept = CAIRN_TRY(reader.string_array("accept"));
    for (const auto& other : setting.accept) {
      if (other.substr(0, other.find('=')) != setting.key) {
        return fail(Errc::invalid_input, reader.where("accept") + "'" + reader.qualified("accept") +
                                             "' entry \"" + other + "\" is not a value of " +
                                             setting.key);
      }
    }
  }
  setting.tags = CAIRN_TRY(read_tags(reader, profile));
  return setting;
}

Expected<MountSetting> read_mount(TableReader& reader, const std::string& profile) {
  MountSetting mount;
  mount.path = CAIRN_TRY(reader.string("path"));
  CAIRN_CHECK(require_absolute(reader, "path", mount.path));
  mount.source = CAIRN_TRY(reader.optional_string("source")).value_or("");
  mount.fstype = CAIRN_TRY(reader.optional_string("fstype")).value_or("");
  mount.options = CAIRN_TRY(reader.string_array("options"));
  if (mount.options.empty()) {
    return fail(Errc::invalid_input,
                reader.where("options") + "'" + reader.qualified("options") + "' is empty");
  }
  mount.tags = CAIRN_TRY(read_tags(reader, profile));
  return mount;
}

Expected<FileSetting> read_file_setting(TableReader& reader, const std::string& profile) {
  FileSetting file;
  file.path = CAIRN_TRY(reader.string("path"));
  CAIRN_CHECK(require_absolute(reader, "path", file.path));
  file.content = CAIRN_TRY(reader.string("content"));
  if (auto mode = CAIRN_TRY(reader.optional_string("mode"))) {
    std::size_t used = 0;
    unsigned long parsed = 0;
    try {
      parsed = std::stoul(*mode, &used, 8);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != mode->size() || parsed > 07777) {
      return fail(Errc::invalid_input, reader.where("mode") + "'" + reader.qualified("mode") +
                                           "' = \"" + *mode + "\" is not an octal mode (\"0644\")");
    }
    file.mode = static_cast<unsigned>(parsed);
  }
  file.tags = CAIRN_TRY(read_tags(reader, profile));
  return file;
}

Expected<LibvirtSetting> read_libvirt(TableReader& reader, const std::string& profile) {
  LibvirtSetting setting;
  setting.file = CAIRN_TRY(reader.string("file"));
  if (setting.file.find('/') != std::string::npos || !setting.file.ends_with(".conf")) {
    return fail(Errc::invalid_input, reader.where("file") + "'" + reader.qualified("file") +
                                         "' names a file in /etc/libvirt (\"qemu.conf\")");
  }
  setting.key = CAIRN_TRY(reader.string("key"));
  setting.value = CAIRN_TRY(reader.string("value"));
  setting.tags = CAIRN_TRY(read_tags(reader, profile));
  return setting;
}

Expected<CheckSpec> read_check(TableReader& reader, const std::string& profile) {
  CheckSpec check;
  check.id = CAIRN_TRY(reader.string("id"));
  check.type = CAIRN_TRY(reader.string("type"));
  const auto* type = std::find_if(std::begin(kCheckTypes), std::end(kCheckTypes),
                                  [&](const CheckType& t) { return t.name == check.type; });
  if (type == std::end(kCheckTypes)) {
    std::string known;
    for (const auto& t : kCheckTypes) known += (known.empty() ? "" : ", ") + std::string(t.name);
    return fail(Errc::invalid_input, reader.where("type") + "'" + reader.qualified("type") +
                                         "' = \"" + check.type + "\" is not a check type (" +
                                         known + ")");
  }
  check.path = CAIRN_TRY(reader.optional_string("path")).value_or("");
  check.value = CAIRN_TRY(reader.optional_string("value")).value_or("");
  for (auto [needed, key, value] : {std::tuple{type->needs_value, "value", check.value},
                                    std::tuple{type->needs_path, "path", check.path}}) {
    if (needed && value.empty()) {
      return fail(Errc::invalid_input, reader.where("type") + "check '" + check.id + "' of type " +
                                           check.type + " needs '" + key + "'");
    }
  }
  if (type->needs_path) CAIRN_CHECK(require_absolute(reader, "path", check.path));
  check.tags = CAIRN_TRY(read_tags(reader, profile));
  return check;
}

// Reads every [[kind]] table of `top`; `read` parses one entry, `same` says which earlier entry
// (from a parent profile) it replaces.
template <class T, class Read, class Same>
Status read_all(TableReader& top, const std::string& kind, std::vector<T>& into, Read read,
                Same same) {
  auto tables = CAIRN_TRY(top.table_array(kind));
  for (std::size_t i = 0; i < tables.size(); ++i) {
    TableReader reader(*tables[i], top.file(), kind + "[" + std::to_string(i) + "]");
    T entry = CAIRN_TRY(read(reader));
    CAIRN_CHECK(reader.finish());
    std::erase_if(into, [&](const T& existing) { return same(existing, entry); });
    into.push_back(std::move(entry));
  }
  return {};
}

Status load_into(const fs::path& dir, const std::string& name, HardeningProfile& profile) {
  if (std::find(profile.chain.begin(), profile.chain.end(), name) != profile.chain.end()) {
    return fail(Errc::invalid_input, "hardening profile '" + name + "' extends itself");
  }
  fs::path file = dir / (name + ".toml");
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    return fail(Errc::not_found,
                "unknown hardening profile '" + name + "' (no " + file.string() + ")");
  }
  toml::table root = CAIRN_TRY(parse_toml_file(file));
  TableReader top(root, file, "");
  auto declared = CAIRN_TRY(top.string("name"));
  if (declared != name) {
    return fail(Errc::invalid_input, top.where("name") + "profile name '" + declared +
                                         "' does not match its file name '" + name + "'");
  }
  CAIRN_TRY(top.optional_string("description"));
  if (auto parent = CAIRN_TRY(top.optional_string("extends"))) {
    CAIRN_CHECK(load_into(dir, *parent, profile));
  }
  profile.chain.push_back(name);
  // A child overrides its parent's entry for the same key.
  for (const std::string kind : {"cmdline", "sysctl"}) {
    CAIRN_CHECK(read_all(
        top, kind, profile.settings, [&](TableReader& r) { return read_setting(r, kind, name); },
        [](const HardeningSetting& a, const HardeningSetting& b) {
          return a.kind == b.kind && a.key == b.key;
        }));
  }
  CAIRN_CHECK(read_all(
      top, "mount", profile.mounts, [&](TableReader& r) { return read_mount(r, name); },
      [](const MountSetting& a, const MountSetting& b) { return a.path == b.path; }));
  CAIRN_CHECK(read_all(
      top, "file", profile.files, [&](TableReader& r) { return read_file_setting(r, name); },
      [](const FileSetting& a, const FileSetting& b) { return a.path == b.path; }));
  CAIRN_CHECK(read_all(
      top, "libvirt", profile.libvirt, [&](TableReader& r) { return read_libvirt(r, name); },
      [](const LibvirtSetting& a, const LibvirtSetting& b) {
        return a.file == b.file && a.key == b.key;
      }));
  CAIRN_CHECK(read_all(
      top, "check", profile.checks, [&](TableReader& r) { return read_check(r, name); },
      [](const CheckSpec& a, const CheckSpec& b) { return a.id == b.id; }));
  return top.finish();
}

}  // namespace

std::vector<std::string> HardeningProfile::cmdline() const {
  std::vector<std::string> params;
  for (const auto& setting : settings) {
    if (setting.kind == "cmdline") params.push_back(setting.value);
  }
  return params;
}

std::string HardeningProfile::sysctl_conf() const {
  std::string out = "# Written by cairn-build from hardening profile '" + name + "'.\n";
  for (const auto& setting : settings) {
    if (setting.kind != "sysctl") continue;
    out += "# ";
    for (std::size_t i = 0; i < setting.tags.controls.size(); ++i) {
      out += (i ? ", " : "") + setting.tags.controls[i];
    }
    out += "\n" + setting.key + " = " + setting.value + "\n";
  }
  return out;
}

std::vector<std::string> HardeningProfile::control_ids() const {
  std::set<std::string> ids;
  auto add = [&](const Tags& tags) { ids.insert(tags.controls.begin(), tags.controls.end()); };
  for (const auto& s : settings) add(s.tags);
  for (const auto& s : mounts) add(s.tags);
  for (const auto& s : files) add(s.tags);
  for (const auto& s : libvirt) add(s.tags);
  for (const auto& s : checks) add(s.tags);
  return {ids.begin(), ids.end()};
}

bool HardeningProfile::empty() const {
  return settings.empty() && mounts.empty() && files.empty() && libvirt.empty() && checks.empty();
}

Expected<HardeningProfile> load_hardening_profile(const fs::path& dir, const std::string& name) {
  HardeningProfile profile{.name = name};
  CAIRN_CHECK(load_into(dir, name, profile));
  return profile;
}

Expected<std::string> render_template(std::string_view text,
                                      const std::map<std::string, std::string>& vars) {
  std::string out;
  std::size_t pos = 0;
  while (true) {
    auto open = text.find("{{", pos);
    if (open == std::string_view::npos) break;
    auto close = text.find("}}", open);
    if (close == std::string_view::npos) break;
    std::string name(text.substr(open + 2, close - open - 2));
    auto found = vars.find(name);
    if (found == vars.end()) {
      return fail(Errc::invalid_input, "unknown template variable {{" + name + "}}");
    }
    out += text.substr(pos, open - pos);
    out += found->second;
    pos = close + 2;
  }
  out += text.substr(pos);
  return out;
}

}  // namespace cairn::builder
