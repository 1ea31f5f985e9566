#include "updater/update_config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

#include "common/system_credential.hpp"
#include "common/toml_reader.hpp"

namespace cairn::updater {

namespace fs = std::filesystem;

namespace {

Expected<int> parse_clock_time(std::string_view text) {
  int hours = 0, minutes = 0;
  if (text.size() != 5 || text[2] != ':') return fail(Errc::invalid_input, "");
  auto [h_end, h_ec] = std::from_chars(text.data(), text.data() + 2, hours);
  auto [m_end, m_ec] = std::from_chars(text.data() + 3, text.data() + 5, minutes);
  if (h_ec != std::errc() || m_ec != std::errc() || h_end != text.data() + 2 ||
      m_end != text.data() + 5 || hours > 23 || minutes > 59) {
    return fail(Errc::invalid_input, "");
  }
  return hours * 60 + minutes;
}

}  // namespace

Status parse_reboot_policy(std::string_view text, FleetConfig& out) {
  if (text == "now" || text == "manual") {
    out.reboot = text == "now" ? RebootPolicy::now : RebootPolicy::manual;
    return {};
  }
  constexpr std::string_view kWindow = "window ";
  if (text.starts_with(kWindow)) {
    std::string_view range = text.substr(kWindow.size());
    auto dash = range.find('-');
    auto start = parse_clock_time(range.substr(0, dash));
    auto end = dash == std::string_view::npos ? start : parse_clock_time(range.substr(dash + 1));
    if (dash != std::string_view::npos && start && end && *start != *end) {
      out.reboot = RebootPolicy::window;
      out.window_start = *start;
      out.window_end = *end;
      return {};
    }
  }
  return fail(Errc::invalid_input, "reboot \"" + std::string(text) +
                                       "\" is none of \"now\", \"manual\" or \"window "
                                       "HH:MM-HH:MM\" (two different times)");
}

bool FleetConfig::in_window(int minute_of_day) const {
  if (window_start < window_end) {
    return minute_of_day >= window_start && minute_of_day < window_end;
  }
  return minute_of_day >= window_start || minute_of_day < window_end;  // crosses midnight
}

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

// What stands before a reboot: the fleet lock, the hooks and the evacuation of guests.
Status apply_reboot_gate(TableReader& fleet, FleetConfig& out) {
  if (auto text = CAIRN_TRY(fleet.optional_string("lock"))) {
    if (*text == "none" || *text == "etcd") {
      out.lock = *text == "none" ? LockKind::none : LockKind::etcd;
    } else if (text->starts_with("fleetlock http://") || text->starts_with("fleetlock https://")) {
      out.lock = LockKind::fleetlock;
      out.fleetlock_url = text->substr(std::string_view("fleetlock ").size());
    } else {
      return fail(Errc::invalid_input, fleet.where("lock") +
                                           "'fleet.lock' must be \"etcd\", \"none\" or "
                                           "\"fleetlock <http(s) URL>\", not \"" +
                                           *text + "\"");
    }
  }
  CAIRN_CHECK(read_duration(fleet, "lock_ttl", out.lock_ttl));
  if (out.lock_ttl.count() < 60) {
    return fail(Errc::invalid_input, fleet.where("lock_ttl") +
                                         "'fleet.lock_ttl' must be at least 60 s: a reboot "
                                         "takes longer than that");
  }
  if (auto value = CAIRN_TRY(fleet.optional_bool("evacuate"))) out.evacuate = *value;
  auto peers = CAIRN_TRY(fleet.string_array("migration_peers"));
  if (!peers.empty()) out.migration_peers = std::move(peers);
  for (const auto& peer : out.migration_peers) {
    if (peer.find("://") == std::string::npos) {
      return fail(Errc::invalid_input, fleet.where("migration_peers") + "'" + peer +
                                           "' is not a libvirt URI (qemu+ssh://host/system, "
                                           "qemu+tls://host/system)");
    }
  }
  CAIRN_CHECK(read_duration(fleet, "migration_timeout", out.migration_timeout));
  if (out.migration_timeout.count() < 1) {
    return fail(Errc::invalid_input,
                fleet.where("migration_timeout") + "'fleet.migration_timeout' must be > 0");
  }
  auto shutdown = CAIRN_TRY(fleet.string_array("shutdown_domains"));
  if (!shutdown.empty()) out.shutdown_domains = std::move(shutdown);
  if (auto value = CAIRN_TRY(fleet.optional_string("hooks_dir"))) out.hooks_dir = *value;
  return {};
}

Status apply_fleet(const toml::table& table, const fs::path& file, FleetConfig& out) {
  TableReader fleet(table, file, "fleet");
  auto url = [&](std::string_view key, std::string& value) -> Status {
    auto text = CAIRN_TRY(fleet.optional_string(key));
    if (!text) return {};
    if (!text->empty() && !text->starts_with("http://") && !text->starts_with("https://")) {
      return fail(Errc::invalid_input, fleet.where(key) + "'" + fleet.qualified(key) +
                                           "' must be an http:// or https:// URL");
    }
    value = *text;
    return {};
  };
  CAIRN_CHECK(url("channel", out.channel));
  CAIRN_CHECK(url("store", out.store));
  if (!out.channel.empty() && !out.channel.ends_with(".json")) {
    return fail(Errc::invalid_input, fleet.where("channel") +
                                         "'fleet.channel' must name a channel index "
                                         "(…/channels/<name>.json)");
  }
  for (auto [key, value] : {std::pair{"name", &out.name}, std::pair{"group", &out.group}}) {
    auto text = CAIRN_TRY(fleet.optional_string(key));
    if (!text) continue;
    bool sane =
        !text->empty() && text->size() <= 64 && std::all_of(text->begin(), text->end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
        });
    if (!sane) {
      return fail(Errc::invalid_input, fleet.where(key) + "'" + fleet.qualified(key) +
                                           "' must be 1 to 64 letters, digits, '-', '_' or '.'");
    }
    *value = *text;
  }
  if (auto text = CAIRN_TRY(fleet.optional_string("reboot"))) {
    if (auto parsed = parse_reboot_policy(*text, out); !parsed) {
      return fail(Errc::invalid_input, fleet.where("reboot") + parsed.error().message());
    }
  }
  CAIRN_CHECK(read_duration(fleet, "stale_after", out.stale_after));
  if (auto value = CAIRN_TRY(fleet.optional_string("ca_file"))) out.ca_file = *value;
  CAIRN_CHECK(apply_reboot_gate(fleet, out));
  CAIRN_CHECK(fleet.finish());
  if (out.stale_after.count() < 10) {
    return fail(Errc::invalid_input,
                fleet.where("stale_after") + "'fleet.stale_after' must be at least 10 s");
  }
  return {};
}

Status apply_file(const fs::path& file, UpdateConfig& config) {
  toml::table root = CAIRN_TRY(parse_toml_file(file));
  TableReader top(root, file, "");
  const toml::table* health_table = CAIRN_TRY(top.optional_table("health"));
  const toml::table* fleet_table = CAIRN_TRY(top.optional_table("fleet"));
  CAIRN_CHECK(top.finish());
  CAIRN_CHECK(apply_fleet(*fleet_table, file, config.fleet));
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
  // Last, the system credential `cairn.update` (SMBIOS type 11 io.systemd.credential:…, or
  // systemd.set_credential=): per-machine settings, such as a fleet's, given by whoever starts
  // the machine, without a change to the image.
  if (auto credential = system_credential(kUpdateCredential, root);
      fs::is_regular_file(credential, ec)) {
    files.push_back(credential);
  }
  UpdateConfig config;
  for (const auto& file : files) CAIRN_CHECK(apply_file(file, config));
  return config;
}

}  // namespace cairn::updater
