// Installing a signed bundle into the inactive slot: the verified manifest and the slot layout
// make an install plan (what to retire, where each payload goes, the entry and identity the
// slot gets), which then runs as small steps against a SlotDevice and the ESP, each step's end a
// point of the update lifecycle (lifecycle.hpp):
//   plan      manifest verified; compatible (machine class, floor, downgrade, sizes); the UKI
//             fits on the ESP — nothing has changed yet
//   installing saved
//   retire    the target's entries removed, its GPT name "cairn_empty": unbootable
//   write     payloads streamed into the partitions (decompressed and hashed in one pass)
//   check     the slot read back against the verity root hash; the UKI's signature checked
//   identify  both partitions' UUIDs and names, in one GPT write
//   installed saved
//   activate  the UKI installed as cairn_<v>+3-0.efi (atomically): the slot is bootable
// A failure or a cancel at any step leaves the running slot and its entry untouched and the
// target with no boot entry; a kill leaves `installing` saved, which the next run undoes.
#pragma once

#include <filesystem>
#include <functional>
#include <stop_token>

#include "common/bundle_reader.hpp"
#include "common/progress.hpp"
#include "updater/esp.hpp"
#include "updater/lifecycle.hpp"
#include "updater/slot_device.hpp"
#include "updater/slots.hpp"

namespace cairn::updater {

struct InstallTarget {
  SlotLayout layout;
  char booted = 'A';          // the running slot; the other one is written
  std::string machine_class;  // this host's
  std::string boot_id;        // this boot's, recorded with the pending slot
  // The running image's security version (recorded in it at build time): the floor never goes
  // below it, state.json or not.
  std::uint64_t image_security_version = 0;
  // A version older than the running one installs only when asked for (`--allow-downgrade`);
  // the automatic paths never ask.
  bool allow_downgrade = false;
};

// Room kept free on the ESP beyond the UKI itself: directory entries, the temporary name, the
// last cluster.
inline constexpr std::uint64_t kEspSlackBytes = 1 << 20;

// The install steps, in order, as Progress stage names and lifecycle points.
inline constexpr std::string_view kInstallSteps[] = {"verify", "retire",   "write",
                                                     "check",  "identify", "activate"};

struct InstallResult {
  char slot = 'B';
  std::string version;
  std::string entry;  // boot entry file name on the ESP
  std::uint64_t security_version = 0;
};

// What an install does, decided before anything changes.
struct InstallPlan {
  BundleManifest manifest;
  Slot target;
  std::vector<std::string> retiring;  // entries removed first
  std::string entry;                  // the new entry's file name
  SlotIdentity identity;              // the target's identity once written
  double verify_seconds = 0;          // how long the manifest's check took, for the history
};

struct InstallSeams {
  SlotDevice& device;
  Esp& esp;
  Lifecycle& lifecycle;
  Progress& progress;
  // The UKI payload, staged: a PE image signed for this host's Secure Boot db, or an error.
  std::function<Status(const std::filesystem::path& uki)> check_uki;
  std::filesystem::path work_dir;  // where the UKI waits for the slot's check
  std::stop_token stop = {};       // a stop request cancels the install (Errc::cancelled)
  // Once every payload is written: the source's own last word (a download's error, the size
  // and digest a channel index promised). Its failure stops the install before the slot is
  // checked, named or bootable.
  std::function<Status()> source_complete = {};
};

// Checks that only depend on the manifest and the host (a step of its own, unit-tested).
Status check_compatible(const BundleManifest& manifest, const InstallTarget& target,
                        const HostState& state);

// The boot entries an install removes from the ESP: every entry of the version the target slot
// holds and leftovers of `incoming_version`, parsed exactly, and never an entry of the running
// version, whatever a bundle or a partition name says.
std::vector<std::string> entries_to_retire(const std::vector<std::string>& entries,
                                           const InstallTarget& target,
                                           std::string_view incoming_version);

// Errc::no_space unless a UKI of `uki_bytes` fits on the ESP once `retiring` is removed.
Status check_esp_room(Esp& esp, std::uint64_t uki_bytes, const std::vector<std::string>& retiring);

// Verifies the manifest and decides the plan; changes nothing but ESP debris.
Expected<InstallPlan> plan_install(BundleReader& reader, SignatureVerifier& verifier,
                                   const InstallTarget& target, const HostState& state, Esp& esp);

// Runs `plan` (the lifecycle is idle, committed, rolled back or installed).
Expected<InstallResult> run_install_plan(const InstallPlan& plan, BundleReader& reader,
                                         const InstallTarget& target, InstallSeams seams,
                                         std::string source);

}  // namespace cairn::updater
