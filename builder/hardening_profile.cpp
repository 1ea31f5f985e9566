#include "builder/hardening_profile.hpp"

#include <algorithm>

#include "builder/toml_reader.hpp"

namespace cairn::builder {

namespace fs = std::filesystem;

namespace {

Expected<HardeningSetting> read_setting(const toml::table& table, const fs::path& file,
                                        const std::string& kind, std::size_t index,
                                        const std::string& profile) {
  TableReader reader(table, file, kind + "[" + std::to_string(index) + "]");
  HardeningSetting setting{.kind = kind, .profile = profile};
  if (kind == "sysctl") {
    setting.key = CAIRN_TRY(reader.string("key"));
    setting.value = CAIRN_TRY(reader.string("value"));
  } else {
    setting.value = CAIRN_TRY(reader.string("value"));
    setting.key = setting.value.substr(0, setting.value.find('='));
  }
  setting.controls = CAIRN_TRY(reader.string_array("controls"));
  if (setting.controls.empty()) {
    return fail(Errc::invalid_input, reader.where("controls") + "'" + reader.qualified("controls") +
                                         "' must name the control point(s) the setting serves");
  }
  setting.why = CAIRN_TRY(reader.optional_string("why")).value_or("");
  CAIRN_CHECK(reader.finish());
  return setting;
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
  for (const std::string kind : {"cmdline", "sysctl"}) {
    auto tables = CAIRN_TRY(top.table_array(kind));
    for (std::size_t i = 0; i < tables.size(); ++i) {
      auto setting = CAIRN_TRY(read_setting(*tables[i], file, kind, i, name));
      // A child overrides its parent's value for the same key.
      std::erase_if(profile.settings, [&](const HardeningSetting& existing) {
        return existing.kind == setting.kind && existing.key == setting.key;
      });
      profile.settings.push_back(std::move(setting));
    }
  }
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
    for (std::size_t i = 0; i < setting.controls.size(); ++i) {
      out += (i ? ", " : "") + setting.controls[i];
    }
    out += "\n" + setting.key + " = " + setting.value + "\n";
  }
  return out;
}

Expected<HardeningProfile> load_hardening_profile(const fs::path& dir, const std::string& name) {
  HardeningProfile profile{.name = name};
  CAIRN_CHECK(load_into(dir, name, profile));
  return profile;
}

}  // namespace cairn::builder
