// Where an install writes a slot, behind one seam: the disk's two partitions of that slot, their
// read-back check against the verity root hash, and their GPT identities (UUID and name) — the
// identity is what makes the kernel command line of the slot's UKI find it, so it is written
// after the slot checks out and before its boot entry.
#pragma once

#include <filesystem>
#include <span>
#include <string>

#include "common/fs.hpp"
#include "updater/slots.hpp"

namespace cairn::updater {

// Both partitions' GPT UUIDs and names.
struct SlotIdentity {
  std::string root_uuid, root_name;
  std::string verity_uuid, verity_name;
};

// "cairn_empty" with a UUID no UKI names: what a slot is while written, and after any failure.
SlotIdentity empty_slot_identity(char slot);
// The identity systemd's verity generator looks for: UUIDs derived from the root hash (as
// systemd-repart derives them) and the version in the names.
Expected<SlotIdentity> version_slot_identity(std::string_view version, std::string_view root_hash);

class SlotDevice {
 public:
  virtual ~SlotDevice() = default;
  // Writes `bytes` at byte `offset` of `partition` (refused past its end).
  virtual Status write(const GptPartition& partition, std::uint64_t offset,
                       std::span<const std::uint8_t> bytes) = 0;
  virtual Status sync() = 0;
  // Reads the slot back: its root against its verity tree and `root_hash` (hex).
  virtual Status verify(const Slot& slot, std::string_view root_hash) = 0;
  // Both partitions' identities, in one GPT write.
  virtual Status set_identity(const Slot& slot, const SlotIdentity& identity) = 0;
};

// The disk (block device or disk-image file) holding the slots. Holds an exclusive BSD lock on
// it while open, as systemd-repart and systemd-sysupdate do: udev does not probe a locked
// device, so nothing reads the slot half-written.
class DiskSlotDevice final : public SlotDevice {
 public:
  static Expected<DiskSlotDevice> open(const std::filesystem::path& disk);
  Status write(const GptPartition& partition, std::uint64_t offset,
               std::span<const std::uint8_t> bytes) override;
  Status sync() override;
  Status verify(const Slot& slot, std::string_view root_hash) override;
  Status set_identity(const Slot& slot, const SlotIdentity& identity) override;

 private:
  DiskSlotDevice(std::filesystem::path disk, UniqueFd fd)
      : disk_(std::move(disk)), fd_(std::move(fd)) {}
  std::filesystem::path disk_;
  UniqueFd fd_;
};

}  // namespace cairn::updater
