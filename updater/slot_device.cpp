#include "updater/slot_device.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "common/gpt.hpp"
#include "common/hash.hpp"
#include "common/verity.hpp"
#include "common/version.hpp"

namespace cairn::updater {

namespace fs = std::filesystem;

namespace {

// udev holds a shared lock on a device for the moment it probes it: wait that out, not longer.
constexpr auto kLockPatience = std::chrono::seconds(10);

Status lock_device(int fd, const fs::path& disk) {
  auto deadline = std::chrono::steady_clock::now() + kLockPatience;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) return fail_errno("locking " + disk.string(), errno);
    if (std::chrono::steady_clock::now() > deadline) {
      return fail(Errc::busy, disk.string() + " stayed locked by another program for " +
                                  std::to_string(kLockPatience.count()) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return {};
}

}  // namespace

SlotIdentity empty_slot_identity(char slot) {
  std::string seed(1, slot);
  return {.root_uuid = stable_uuid("cairn-empty-root-" + seed),
          .root_name = std::string(kEmptyRootName),
          .verity_uuid = stable_uuid("cairn-empty-verity-" + seed),
          .verity_name = std::string(kEmptyVerityName)};
}

Expected<SlotIdentity> version_slot_identity(std::string_view version, std::string_view root_hash) {
  auto bytes = CAIRN_TRY(from_hex(std::string(root_hash)));
  Sha256Digest digest{};
  if (bytes.size() != digest.size()) {
    return fail(Errc::invalid_input, "root hash " + std::string(root_hash) + " is not SHA-256");
  }
  std::memcpy(digest.data(), bytes.data(), digest.size());
  return SlotIdentity{.root_uuid = verity_data_partition_uuid(digest),
                      .root_name = root_partition_name(version),
                      .verity_uuid = verity_hash_partition_uuid(digest),
                      .verity_name = verity_partition_name(version)};
}

Expected<DiskSlotDevice> DiskSlotDevice::open(const fs::path& disk) {
  auto fd = CAIRN_TRY(open_file(disk, O_RDWR | O_CLOEXEC));
  CAIRN_CHECK(lock_device(fd.get(), disk));
  return DiskSlotDevice(disk, std::move(fd));
}

Status DiskSlotDevice::write(const GptPartition& partition, std::uint64_t offset,
                             std::span<const std::uint8_t> bytes) {
  if (offset + bytes.size() > partition.size_bytes) {
    return fail(Errc::invalid_input, "payload runs past partition " + partition.label);
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::pwrite(fd_.get(), bytes.data() + done, bytes.size() - done,
                         static_cast<off_t>(partition.start_bytes + offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("writing partition " + partition.label, errno);
    done += static_cast<std::size_t>(n);
  }
  return {};
}

Status DiskSlotDevice::sync() {
  if (::fsync(fd_.get()) != 0) return fail_errno("fsync " + disk_.string(), errno);
  return {};
}

Status DiskSlotDevice::verify(const Slot& slot, std::string_view root_hash) {
  return with_context(verify_verity(disk_, disk_, std::string(root_hash), slot.root.start_bytes,
                                    slot.verity.start_bytes),
                      "reading slot " + std::string(1, slot.name) + " back");
}

Status DiskSlotDevice::set_identity(const Slot& slot, const SlotIdentity& identity) {
  const PartitionIdentity both[] = {
      {.number = slot.verity.number, .uuid = identity.verity_uuid, .label = identity.verity_name},
      {.number = slot.root.number, .uuid = identity.root_uuid, .label = identity.root_name}};
  return set_partition_identities(disk_, both);
}

}  // namespace cairn::updater
