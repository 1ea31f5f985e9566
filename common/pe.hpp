// Just enough PE/COFF to assemble and check Unified Kernel Images: the section table and the
// alignment fields of a PE32+ image.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace cairn {

struct PeSection {
  std::string name;
  std::uint32_t virtual_address = 0;  // relative to the image base
  std::uint32_t virtual_size = 0;
  std::uint32_t raw_size = 0;
  std::uint32_t raw_offset = 0;
  std::uint32_t characteristics = 0;
};

struct PeImage {
  std::uint64_t image_base = 0;
  std::uint32_t section_alignment = 0, file_alignment = 0, size_of_image = 0;
  std::vector<PeSection> sections;

  const PeSection* find(std::string_view name) const;
};

Expected<PeImage> read_pe(const std::filesystem::path& path);
// The same from bytes in memory; `what` names them in errors.
Expected<PeImage> parse_pe(const std::string& bytes, std::string_view what);
// A section's contents up to its first NUL (.osrel, .cmdline, .uname); empty when absent.
std::string pe_section_text(const std::string& bytes, const PeImage& pe, std::string_view name);

// Sets the COFF TimeDateStamp to `timestamp` and recomputes the optional header's checksum.
// objcopy stamps the current time (binutils 2.40 ignores SOURCE_DATE_EPOCH for PE), which would
// make every UKI unique.
Status set_pe_timestamp(const std::filesystem::path& path, std::uint32_t timestamp);

// Where new sections go when appended after `stub`'s last section, each aligned to the
// section alignment, in the given order. Returns relative virtual addresses.
std::vector<std::uint32_t> plan_appended_sections(const PeImage& stub,
                                                  const std::vector<std::uint64_t>& sizes);

}  // namespace cairn
