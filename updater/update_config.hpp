// A host's update settings: /etc/cairn/update.toml, then drop-ins (*.toml, in file-name order)
// from /usr/lib/cairn/update.toml.d (the image's defaults), /etc/cairn/update.toml.d (the
// recipe's overlay) and /run/cairn/update.toml.d (this boot only); a drop-in of the same name in
// a later directory replaces an earlier one, as systemd's drop-ins do. Every key is optional:
//
//   [health]
//   window = "10min"          # observation window after an update ("90s", "2h", or seconds)
//   interval = "30s"          # time between two rounds of checks
//   check_timeout = "60s"     # an executable check running longer has failed
//   libvirtd = true           # require libvirtd.service active (when the image has it)
//   autostart_domains = true  # require every autostart libvirt domain running
//   checks_dir = "/etc/cairn/health.d"   # required.d/ and wanted.d/ executables
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "common/duration.hpp"
#include "common/error.hpp"

namespace cairn::updater {

struct HealthConfig {
  std::chrono::seconds window{600};
  std::chrono::seconds interval{30};
  std::chrono::seconds check_timeout{60};
  bool libvirtd = true;
  bool autostart_domains = true;
  std::filesystem::path checks_dir = "/etc/cairn/health.d";
};

struct UpdateConfig {
  HealthConfig health;
};

// Reads the files under `root` ("/" on a host; a test tree otherwise). No file at all gives the
// defaults; an unknown key, a wrong type or a bad duration is an error naming file and line.
Expected<UpdateConfig> load_update_config(const std::filesystem::path& root = "/");

// The durations of [health] read as every Cairn duration is (common/duration.hpp).
using cairn::parse_duration;

}  // namespace cairn::updater
