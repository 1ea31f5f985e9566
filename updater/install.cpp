#include "updater/install.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "common/fs.hpp"
#include "common/hash.hpp"
#include "common/verity.hpp"

namespace cairn::updater {

namespace fs = std::filesystem;

Expected<UniqueFd> take_install_lock(const fs::path& state_dir) {
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  auto fd = CAIRN_TRY(open_file(state_dir / "install.lock", O_RDWR | O_CREAT, 0600));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return fail(Errc::busy, "another install is running");
    return fail_errno("locking " + (state_dir / "install.lock").string(), errno);
  }
  return fd;
}

namespace {

Status check_fits(const ManifestPayload& payload, const GptPartition& partition) {
  if (payload.size > partition.size_bytes) {
    return fail(Errc::invalid_input,
                "payload " + payload.name + " (" + std::to_string(payload.size) +
                    " bytes) is larger than its slot partition " + partition.label + " (" +
                    std::to_string(partition.size_bytes) + " bytes)");
  }
  return {};
}

// Names the slot as holding nothing: what it is while written, and after any failure.
Status name_slot_empty(const SlotLayout& layout, const Slot& slot) {
  std::string seed(1, slot.name);
  CAIRN_CHECK(set_partition_identity(layout.disk, slot.root.number,
                                     stable_uuid("cairn-empty-root-" + seed),
                                     std::string(kEmptyRootName)));
  return set_partition_identity(layout.disk, slot.verity.number,
                                stable_uuid("cairn-empty-verity-" + seed),
                                std::string(kEmptyVerityName));
}

// The step that makes the target slot unbootable before a byte of it changes.
Status retire_slot(Esp& esp, const SlotLayout& layout, const Slot& slot,
                   const std::vector<std::string>& entries) {
  for (const auto& entry : entries) CAIRN_CHECK(esp.remove_entry(entry));
  return name_slot_empty(layout, slot);
}

// A regular file may take fewer bytes than asked (a full file system does): retry, and report
// the errno of the write that failed.
Status write_all(int fd, std::span<const std::uint8_t> bytes, const fs::path& path) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("writing " + path.string(), errno);
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  return {};
}

// Writes a payload stream into one partition of the disk.
class PartitionWriter {
 public:
  PartitionWriter(int fd, const GptPartition& partition) : fd_(fd), partition_(partition) {}
  Status operator()(std::span<const std::uint8_t> bytes) {
    if (written_ + bytes.size() > partition_.size_bytes) {
      return fail(Errc::invalid_input, "payload runs past partition " + partition_.label);
    }
    std::size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::pwrite(fd_, bytes.data() + done, bytes.size() - done,
                           static_cast<off_t>(partition_.start_bytes + written_ + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail_errno("writing partition " + partition_.label, errno);
      done += static_cast<std::size_t>(n);
    }
    written_ += bytes.size();
    return {};
  }

 private:
  int fd_;
  const GptPartition& partition_;
  std::uint64_t written_ = 0;
};

}  // namespace

std::vector<std::string> entries_to_retire(const std::vector<std::string>& entries,
                                           const InstallTarget& target,
                                           std::string_view incoming_version) {
  std::string running = target.layout.slot(target.booted).version();
  std::string target_version = target.layout.other(target.booted).version();
  std::vector<std::string> retiring;
  for (const auto& name : entries) {
    auto entry = parse_boot_entry_name(name);
    if (!entry || (!running.empty() && entry->version == running)) continue;
    if (entry->version == target_version || entry->version == incoming_version) {
      retiring.push_back(name);
    }
  }
  return retiring;
}

Status check_esp_room(Esp& esp, std::uint64_t uki_bytes, const std::vector<std::string>& retiring) {
  std::uint64_t room = CAIRN_TRY(esp.free_bytes());
  for (const auto& entry : retiring) room += CAIRN_TRY(esp.entry_bytes(entry));
  if (uki_bytes + kEspSlackBytes <= room) return {};
  return fail(Errc::no_space, "the UKI (" + std::to_string(uki_bytes) +
                                  " bytes) does not fit on the ESP: " + std::to_string(room) +
                                  " bytes free, counting the entries this install replaces, and " +
                                  std::to_string(kEspSlackBytes) + " must stay in reserve");
}

Status check_compatible(const BundleManifest& manifest, const InstallTarget& target,
                        const HostState& state) {
  if (manifest.machine_class != target.machine_class) {
    return fail(Errc::invalid_input, "bundle is for machine class " + manifest.machine_class +
                                         ", this host is " + target.machine_class);
  }
  // The floor is never below the running image's own security version: a host whose state was
  // wiped (or never written) still refuses what the image it runs has superseded.
  std::uint64_t floor = std::max(state.security_floor, target.image_security_version);
  if (manifest.security_version < floor) {
    std::string why = floor == state.security_floor ? "the highest installed so far"
                                                    : "the running image's security version";
    return fail(Errc::invalid_input, "bundle " + manifest.version + " has security version " +
                                         std::to_string(manifest.security_version) +
                                         ", below this host's floor " + std::to_string(floor) +
                                         " (" + why + "): downgrade refused");
  }
  if (manifest.version == target.layout.slot(target.booted).version()) {
    return fail(Errc::invalid_input, "version " + manifest.version + " is already running (slot " +
                                         std::string(1, target.booted) + ")");
  }
  const Slot& slot = target.layout.other(target.booted);
  CAIRN_CHECK(check_fits(*manifest.find(PayloadTarget::root), slot.root));
  return check_fits(*manifest.find(PayloadTarget::verity), slot.verity);
}

Expected<InstallResult> install_bundle(BundleReader& reader, SignatureVerifier& verifier, Esp& esp,
                                       const InstallTarget& target, const InstallOptions& options,
                                       Progress& progress) {
  auto lock = CAIRN_TRY(take_install_lock(options.state_dir));
  auto timed = [&](std::string_view stage, auto&& step) {
    progress.stage_started(stage);
    auto started = std::chrono::steady_clock::now();
    auto result = step();
    if (result) progress.stage_finished(stage, std::chrono::steady_clock::now() - started);
    return result;
  };

  auto manifest = CAIRN_TRY(timed("verify", [&] { return reader.read_manifest(verifier); }));
  auto state = CAIRN_TRY(load_state(options.state_dir));
  CAIRN_CHECK(check_compatible(manifest, target, state));
  const Slot& slot = target.layout.other(target.booted);
  CAIRN_CHECK(timed("retire", [&]() -> Status {
    // The space earlier interrupted installs took (a 20-cut soak filled the ESP with salvaged
    // chains until the next UKI no longer fitted): reclaimed before the room is counted.
    CAIRN_TRY(esp.reclaim_debris());
    auto retiring = entries_to_retire(CAIRN_TRY(esp.list_entries()), target, manifest.version);
    // Room first: a UKI that cannot fit must not cost the host its other slot.
    CAIRN_CHECK(check_esp_room(esp, manifest.find(PayloadTarget::uki)->size, retiring));
    return retire_slot(esp, target.layout, slot, retiring);
  }));

  auto disk = CAIRN_TRY(open_file(target.layout.disk, O_RDWR));
  // The UKI waits here until the slot is verified; removed whatever happens.
  auto staging = CAIRN_TRY(TempDir::create(options.work_dir, ".cairn-install-"));
  fs::path uki = staging.path() / "uki.efi";
  CAIRN_CHECK(timed("write", [&]() -> Status {
    auto uki_fd = CAIRN_TRY(open_file(uki, O_WRONLY | O_CREAT | O_TRUNC, 0600));
    for (std::size_t i = 0; i < manifest.payloads.size(); ++i) {
      const ManifestPayload& payload = manifest.payloads[i];
      const GptPartition* partition = payload.target == PayloadTarget::root     ? &slot.root
                                      : payload.target == PayloadTarget::verity ? &slot.verity
                                                                                : nullptr;
      std::uint64_t done = 0;
      auto report = [&](std::size_t n) {
        done += n;
        progress.stage_fraction("write",
                                static_cast<double>(done) /
                                    static_cast<double>(std::max<std::uint64_t>(payload.size, 1)));
      };
      if (partition) {
        PartitionWriter writer(disk.get(), *partition);
        CAIRN_TRY(reader.read_next_payload([&](std::span<const std::uint8_t> bytes) -> Status {
          CAIRN_CHECK(writer(bytes));
          report(bytes.size());
          return {};
        }));
      } else {
        CAIRN_TRY(reader.read_next_payload([&](std::span<const std::uint8_t> bytes) -> Status {
          CAIRN_CHECK(write_all(uki_fd.get(), bytes, uki));
          report(bytes.size());
          return {};
        }));
      }
    }
    CAIRN_CHECK(reader.finish());
    if (::fsync(uki_fd.get()) != 0) return fail_errno("fsync " + uki.string(), errno);
    if (::fsync(disk.get()) != 0) return fail_errno("fsync " + target.layout.disk.string(), errno);
    return {};
  }));

  // Read the slot back: what the kernel will check at boot, checked now.
  CAIRN_CHECK(timed("check", [&] {
    return with_context(verify_verity(target.layout.disk, target.layout.disk, manifest.root_hash,
                                      slot.root.start_bytes, slot.verity.start_bytes),
                        "reading slot " + std::string(1, slot.name) + " back");
  }));

  auto activated = timed("activate", [&]() -> Status {
    auto root_hash = CAIRN_TRY(from_hex(manifest.root_hash));
    Sha256Digest digest{};
    std::memcpy(digest.data(), root_hash.data(), digest.size());
    CAIRN_CHECK(set_partition_identity(target.layout.disk, slot.verity.number,
                                       verity_hash_partition_uuid(digest),
                                       verity_partition_name(manifest.version)));
    CAIRN_CHECK(set_partition_identity(target.layout.disk, slot.root.number,
                                       verity_data_partition_uuid(digest),
                                       root_partition_name(manifest.version)));
    // Last: the entry is what makes the slot bootable.
    CAIRN_CHECK(esp.install_entry(uki, new_entry_name(manifest.version)));
    state.pending = PendingSlot{.slot = slot.name,
                                .version = manifest.version,
                                .security_version = manifest.security_version,
                                .install_boot_id = target.boot_id};
    auto saved = save_state(options.state_dir, state);
    // An entry nobody watches would be booted without an observation window: take it back.
    if (!saved) (void)esp.remove_entry(new_entry_name(manifest.version));
    return saved;
  });
  if (!activated) {
    // A slot named for a version it has no entry for would look installed: back to empty.
    (void)name_slot_empty(target.layout, slot);
    return std::unexpected(std::move(activated.error()));
  }
  return InstallResult{.slot = slot.name,
                       .version = manifest.version,
                       .entry = new_entry_name(manifest.version),
                       .security_version = manifest.security_version};
}

}  // namespace cairn::updater
