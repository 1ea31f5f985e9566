// Installing a signed bundle into the inactive slot, as a pipeline of small steps:
//   manifest verified → compatible (machine class, anti-rollback floor, not the running
//   version, payloads fit) → target made unbootable (its boot entries removed, its GPT name
//   "cairn_empty") → payloads streamed into the partitions (decompressed and hashed in one
//   pass, never staged) → slot read back against the verity root hash → GPT UUIDs and names set
//   → UKI installed as cairn_<v>+3-0.efi → slot recorded as pending.
// A failure at any step leaves the running slot and its entry untouched and the target with no
// boot entry: a half-written slot is never bootable.
#pragma once

#include <filesystem>

#include "common/bundle_reader.hpp"
#include "common/fs.hpp"
#include "common/progress.hpp"
#include "updater/esp.hpp"
#include "updater/slots.hpp"
#include "updater/state.hpp"

namespace cairn::updater {

struct InstallTarget {
  SlotLayout layout;
  char booted = 'A';          // the running slot; the other one is written
  std::string machine_class;  // this host's
  std::string boot_id;        // this boot's, recorded with the pending slot
  // The running image's security version (recorded in it at build time): the floor never goes
  // below it, state.json or not.
  std::uint64_t image_security_version = 0;
};

// Room kept free on the ESP beyond the UKI itself: directory entries, the temporary name, the
// last cluster.
inline constexpr std::uint64_t kEspSlackBytes = 1 << 20;

struct InstallOptions {
  std::filesystem::path state_dir;  // /var/lib/cairn: state.json, install.lock
  std::filesystem::path work_dir;   // where the UKI waits for the slot's verification
};

struct InstallResult {
  char slot = 'B';
  std::string version;
  std::string entry;  // boot entry file name on the ESP
  std::uint64_t security_version = 0;
};

// One install (or rollback) at a time, across processes: CLI and daemon alike. Held while the
// returned descriptor lives.
Expected<UniqueFd> take_install_lock(const std::filesystem::path& state_dir);

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

Expected<InstallResult> install_bundle(BundleReader& reader, SignatureVerifier& verifier, Esp& esp,
                                       const InstallTarget& target, const InstallOptions& options,
                                       Progress& progress);

}  // namespace cairn::updater
