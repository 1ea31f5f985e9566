// A host's update settings: /etc/cairn/update.toml, then drop-ins (*.toml, in file-name order)
// from /usr/lib/cairn/update.toml.d (the image's defaults), /etc/cairn/update.toml.d (the
// recipe's overlay) and /run/cairn/update.toml.d (this boot only); a drop-in of the same name in
// a later directory replaces an earlier one, as systemd's drop-ins do; last, the system
// credential `cairn.update` (a machine's own settings from its VMM or boot loader, see
// kUpdateCredential). Every key is optional:
//
//   [health]
//   window = "10min"          # observation window after an update ("90s", "2h", or seconds)
//   interval = "30s"          # time between two rounds of checks
//   check_timeout = "60s"     # an executable check running longer has failed
//   libvirtd = true           # require libvirtd.service active (when the image has it)
//   autostart_domains = true  # require every autostart libvirt domain running
//   checks_dir = "/etc/cairn/health.d"   # required.d/ and wanted.d/ executables
//
//   [fleet]                   # absent: the host updates only when told to (cairn-update install)
//   channel = "https://updates.example/channels/stable.json"   # the signed channel index
//   store = "http://127.0.0.1:2379"   # etcd (v3 JSON gateway); absent: the host updates alone
//   name = "default"          # the fleet, in etcd under /cairn/<name>/
//   group = "default"         # the host's group: its reports and its fleet lock
//   reboot = "manual"         # after an install: "now", "window 02:00-04:00" (local), "manual"
//   stale_after = "2h"        # the host shows as stale once it has not polled for this long
//   ca_file = "/etc/cairn/fleet-ca.pem"   # extra CA for https channels, stores, FleetLock
//   lock = "etcd"             # before a reboot into or out of an update: "etcd" (the group's
//                             # semaphore in the store; the default with a store), "fleetlock
//                             # https://airlock.example" (FleetLock protocol), "none"
//   lock_ttl = "1h"           # a host that died holding its place loses it after this long
//   evacuate = true           # live-migrate every running libvirt domain away before the reboot
//   migration_peers = ["qemu+ssh://kvm-2.admin/system"]   # tried in order, per domain
//   migration_timeout = "10min"   # per domain; also each pre-reboot hook's limit
//   shutdown_domains = ["scratch-vm"]   # shut down instead of moved ("*": every domain)
//   hooks_dir = "/etc/cairn"  # pre-reboot.d/ and post-commit.d/ executables
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

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

enum class RebootPolicy { manual, now, window };

enum class LockKind { none, etcd, fleetlock };

struct FleetConfig {
  std::string channel;  // empty: no fleet, `cairn-update poll` has nothing to do
  std::string store;    // empty: no fleet store
  std::string name = "default";
  std::string group = "default";
  RebootPolicy reboot = RebootPolicy::manual;
  // The reboot window, minutes after local midnight; `end` before `start` crosses midnight.
  int window_start = 0;
  int window_end = 0;
  std::chrono::seconds stale_after{7200};
  std::filesystem::path ca_file;
  LockKind lock = LockKind::etcd;  // applies only with a store; "none" without one
  std::string fleetlock_url;       // lock = "fleetlock URL"
  std::chrono::seconds lock_ttl{3600};
  bool evacuate = true;
  std::vector<std::string> migration_peers;
  std::chrono::seconds migration_timeout{600};
  std::vector<std::string> shutdown_domains;
  std::filesystem::path hooks_dir = "/etc/cairn";

  // The lock this configuration takes: etcd's only where there is a store.
  LockKind effective_lock() const {
    return lock == LockKind::etcd && store.empty() ? LockKind::none : lock;
  }
  bool enabled() const { return !channel.empty(); }
  // Whether `minute_of_day` (local) falls in the reboot window.
  bool in_window(int minute_of_day) const;
};

struct UpdateConfig {
  HealthConfig health;
  FleetConfig fleet;
};

// The system credential read as the last drop-in (see load_update_config and
// common/system_credential.hpp).
inline constexpr std::string_view kUpdateCredential = "cairn.update";

// Reads the files under `root` ("/" on a host; a test tree otherwise). No file at all gives the
// defaults; an unknown key, a wrong type or a bad duration is an error naming file and line.
Expected<UpdateConfig> load_update_config(const std::filesystem::path& root = "/");

// "now", "manual" or "window HH:MM-HH:MM".
Status parse_reboot_policy(std::string_view text, FleetConfig& out);

// The durations of [health] and [fleet] read as every Cairn duration is (common/duration.hpp).
using cairn::parse_duration;

}  // namespace cairn::updater
