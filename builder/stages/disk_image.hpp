// Stage 6: the bootable disk image — GPT, an ESP filled with mtools (the build machine's kernel
// cannot mount vfat), slot A's root and verity images; slot B and var left empty (sparse).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/gpt.hpp"
#include "common/process.hpp"
#include "common/progress.hpp"

namespace cairn::builder {

struct EspContents {
  // (path inside the ESP, e.g. "EFI/BOOT/BOOTX64.EFI"; source file). Source mtimes are set to
  // the build's epoch: mtools stamps files with them.
  std::vector<std::pair<std::string, std::filesystem::path>> files;
};

struct DiskImageInput {
  GptDisk disk;  // planned (plan_layout / image_disk)
  std::filesystem::path root_image, verity_image;
  EspContents esp;
  std::int64_t source_date_epoch = 0;
  std::filesystem::path output;
};

struct DiskImageOutput {
  std::filesystem::path image;
  std::uint64_t size = 0;
};

// Builds the FAT32 ESP image file `output` of `size_bytes`.
Status build_esp(const EspContents& contents, std::uint64_t size_bytes,
                 const std::string& volume_id, std::int64_t source_date_epoch,
                 const std::filesystem::path& output, ProcessRunner& runner);

Expected<DiskImageOutput> build_disk_image(const DiskImageInput& input, ProcessRunner& runner,
                                           Progress& progress);

}  // namespace cairn::builder
