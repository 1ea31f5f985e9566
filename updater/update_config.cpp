#include "updater/update_config.hpp"

#include <algorithm>
#include <map>

#include "common/toml_reader.hpp"

namespace cairn::updater {

namespace fs = std::filesystem;

namespace {

Status read_duration(TableReader& reader, std::string_view key, std::chrono::seconds& out) {
  // Either a string with a unit or an integer number of seconds.
  auto as_integer = reader.optional_integer(key);
  if (as_integer && *as_integer) {
    if (**as_integer < 0) {
      return fail(Errc::invalid_input,
                  reader.where(key) + "'" + reader.qualified(key) + "' must not be negative");
    }
    out = std::chrono::seconds(**as_integer);
    return {};
  }
  auto as_string = CAIRN_TRY(reader.optional_string(key));
  if (!as_string) return {};
  auto parsed = parse_duration(*as_string);
  if (!parsed) {
    return fail(Errc::invalid_input,
                reader.where(key) + "'" + reader.qualified(key) + "': " + parsed.error().message());
  }
  out = *parsed;
  return {};
}

Status apply_file(const fs::path& file, UpdateConfig& config) {
  toml::table root = CAIRN_TRY(parse_toml_file(file));
  TableReader top(root, file, "");
  const toml::table* health_table = CAIRN_TRY(top.optional_table("health"));
  CAIRN_CHECK(top.finish());
  TableReader health(*health_table, file, "health");
  HealthConfig& out = config.health;
  CAIRN_CHECK(read_duration(health, "window", out.window));
  CAIRN_CHECK(read_duration(health, "interval", out.interval));
  CAIRN_CHECK(read_duration(health, "check_timeout", out.check_timeout));
  if (auto value = CAIRN_TRY(health.optional_bool("libvirtd"))) out.libvirtd = *value;
  if (auto value = CAIRN_TRY(health.optional_bool("autostart_domains"))) {
    out.autostart_domains = *value;
  }
  if (auto value = CAIRN_TRY(health.optional_string("checks_dir"))) out.checks_dir = *value;
  CAIRN_CHECK(health.finish());
  if (out.interval.count() == 0) {
    return fail(Errc::invalid_input, health.where("interval") + "'health.interval' must be > 0");
  }
  return {};
}

}  // namespace

Expected<UpdateConfig> load_update_config(const fs::path& root) {
  std::vector<fs::path> files;
  std::error_code ec;
  if (fs::is_regular_file(root / "etc/cairn/update.toml", ec)) {
    files.push_back(root / "etc/cairn/update.toml");
  }
  // Drop-ins by file name; a later directory's file of the same name wins.
  std::map<std::string, fs::path> dropins;
  for (const char* dir :
       {"usr/lib/cairn/update.toml.d", "etc/cairn/update.toml.d", "run/cairn/update.toml.d"}) {
    for (const auto& entry : fs::directory_iterator(root / dir, ec)) {
      if (entry.path().extension() == ".toml" && entry.is_regular_file(ec)) {
        dropins[entry.path().filename().string()] = entry.path();
      }
    }
  }
  for (const auto& [name, path] : dropins) files.push_back(path);
  UpdateConfig config;
  for (const auto& file : files) CAIRN_CHECK(apply_file(file, config));
  return config;
}

}  // namespace cairn::updater
