// GPT disk layouts: the arithmetic (1 MiB alignment, room for the backup table) and reading and
// writing partition tables through libfdisk, on a disk-image file or a block device alike.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace cairn {

inline constexpr std::uint64_t kSectorSize = 512;
inline constexpr std::uint64_t kAlignment = 1 << 20;  // 1 MiB, what every tool aligns to
inline constexpr std::uint64_t kGptReadOnlyAttribute = std::uint64_t{1} << 60;
// A partition name holds 36 UTF-16 code units; libfdisk cuts longer names without a word.
inline constexpr std::size_t kGptNameUnits = 36;

// Errc::invalid_input when `name` (UTF-8) would not fit a GPT partition name uncut.
Status check_gpt_name(std::string_view name);

struct GptPartition {
  std::string label;      // GPT partition name
  std::string type_guid;  // lowercase
  std::string uuid;       // lowercase
  std::uint64_t size_bytes = 0;
  std::uint64_t attributes = 0;
  std::uint64_t start_bytes = 0;  // filled by plan_layout / read_gpt
  std::size_t number = 0;         // 1-based, filled by plan_layout / read_gpt
};

struct GptDisk {
  std::string disk_guid;
  std::vector<GptPartition> partitions;
  std::uint64_t size_bytes = 0;  // whole disk, filled by plan_layout
};

// Assigns each partition an aligned start (in order) and computes the disk size, leaving room
// for the backup GPT at the end. Sizes are rounded up to the alignment.
Expected<GptDisk> plan_layout(GptDisk disk);

// Writes the protective MBR and both GPT copies for `disk` (planned) onto `path`, which must
// already be at least disk.size_bytes long. Deterministic: same layout, same bytes.
Status write_gpt(const std::filesystem::path& path, const GptDisk& disk);

Expected<GptDisk> read_gpt(const std::filesystem::path& path);

struct PartitionIdentity {
  std::size_t number = 0;  // 1-based
  std::string uuid;
  std::string label;
};

// Rewrites partitions' UUIDs and names in place, all in one GPT write (the updater's last step
// before a slot becomes bootable). Refused, with nothing written, if a name does not fit or
// libfdisk refuses any of them.
Status set_partition_identities(const std::filesystem::path& path,
                                std::span<const PartitionIdentity> identities);
Status set_partition_identity(const std::filesystem::path& path, std::size_t number,
                              const std::string& uuid, const std::string& label);

// A version-4-shaped UUID derived from `seed`: stable for the same seed.
std::string stable_uuid(std::string_view seed);

}  // namespace cairn
