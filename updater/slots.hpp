// The A/B slots of a host's disk, read from its GPT (a block device or a disk-image file alike):
// each slot is a root partition (erofs image) and its dm-verity partition, paired in table
// order, per the Discoverable Partitions Specification types. A slot's GPT name says what it
// holds: "cairn_<version>" (and "cairn_<version>_verity"), or "cairn_empty".
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "common/gpt.hpp"

namespace cairn::updater {

inline constexpr std::string_view kEspType = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
inline constexpr std::string_view kRootType = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709";
inline constexpr std::string_view kRootVerityType = "2c7357ed-ebd2-46d9-aec1-23d437ec2bf5";

struct Slot {
  char name = 'A';  // 'A' or 'B'
  GptPartition root, verity;

  // The version its label names, or empty for an empty (or foreign) slot.
  std::string version() const;
};

struct SlotLayout {
  std::filesystem::path disk;
  GptPartition esp;
  Slot a, b;

  const Slot& slot(char name) const { return name == 'B' ? b : a; }
  const Slot& other(char name) const { return name == 'B' ? a : b; }
  // The slot whose root partition has this PARTUUID (as the kernel command line names it).
  std::optional<char> slot_with_root_uuid(std::string_view uuid) const;
};

// Errc::invalid_input naming what is missing when the disk is not an A/B Cairn layout.
Expected<SlotLayout> read_slot_layout(const std::filesystem::path& disk);

}  // namespace cairn::updater
