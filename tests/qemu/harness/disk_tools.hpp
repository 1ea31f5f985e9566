// Changing a copy of a built disk image the way an attacker or a bad update would: a flipped
// byte in a partition, a file replaced on the ESP. Tests boot the result.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "common/error.hpp"

namespace cairn::qemu {

// Sparse copy (a 1.6 GiB image holds ~250 MiB of data).
Status copy_disk(const std::filesystem::path& from, const std::filesystem::path& to);

// Byte offset of the partition with GPT name `label`.
Expected<std::uint64_t> partition_offset(const std::filesystem::path& disk,
                                         const std::string& label);

// XORs one byte at `offset` with 0xff; returns the old value.
Expected<std::uint8_t> flip_byte(const std::filesystem::path& disk, std::uint64_t offset);

// Replaces (or adds) `esp_path` ("EFI/Linux/x.efi") on the ESP with `file`, through mtools.
Status replace_esp_file(const std::filesystem::path& disk, const std::string& esp_path,
                        const std::filesystem::path& file);

// Copies `esp_path` from the disk's ESP to `to`.
Status extract_esp_file(const std::filesystem::path& disk, const std::string& esp_path,
                        const std::filesystem::path& to);

}  // namespace cairn::qemu
