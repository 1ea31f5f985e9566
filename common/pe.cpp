#include "common/pe.hpp"

#include <algorithm>
#include <cstring>

#include "common/fs.hpp"
#include "common/little_endian.hpp"

namespace cairn {

namespace {

std::uint64_t align_up(std::uint64_t value, std::uint64_t alignment) {
  return alignment ? (value + alignment - 1) / alignment * alignment : value;
}

}  // namespace

const PeSection* PeImage::find(std::string_view name) const {
  for (const auto& section : sections) {
    if (section.name == name) return &section;
  }
  return nullptr;
}

Expected<PeImage> read_pe(const std::filesystem::path& path) {
  return parse_pe(CAIRN_TRY(read_file(path)), path.string());
}

std::string pe_section_text(const std::string& bytes, const PeImage& pe, std::string_view name) {
  const PeSection* section = pe.find(name);
  if (!section || section->raw_offset >= bytes.size()) return {};
  std::string text =
      bytes.substr(section->raw_offset, std::min(section->virtual_size, section->raw_size));
  return text.substr(0, text.find('\0'));
}

Expected<PeImage> parse_pe(const std::string& data, std::string_view what) {
  auto bad = [&](const std::string& why) {
    return fail(Errc::invalid_input, std::string(what) + " is not a PE32+ image: " + why);
  };
  if (data.size() < 0x40 || data.compare(0, 2, "MZ") != 0) return bad("no MZ header");
  std::size_t pe_offset = read_le<std::uint32_t>(data, 0x3c);
  if (pe_offset + 24 > data.size() || data.compare(pe_offset, 4, std::string("PE\0\0", 4)) != 0) {
    return bad("no PE signature");
  }
  std::size_t coff = pe_offset + 4;
  auto sections = read_le<std::uint16_t>(data, coff + 2);
  auto optional_size = read_le<std::uint16_t>(data, coff + 16);
  std::size_t optional = coff + 20;
  // The fields read below end with SizeOfImage (bytes 56-59); a shorter optional header would
  // have them read past the end of `data` (found by tests/fuzz).
  if (optional_size < 60 || optional + optional_size > data.size()) {
    return bad("truncated optional header");
  }
  if (read_le<std::uint16_t>(data, optional) != 0x20b) return bad("not PE32+");
  PeImage image;
  image.image_base = read_le<std::uint64_t>(data, optional + 24);
  image.section_alignment = read_le<std::uint32_t>(data, optional + 32);
  image.file_alignment = read_le<std::uint32_t>(data, optional + 36);
  image.size_of_image = read_le<std::uint32_t>(data, optional + 56);
  std::size_t table = optional + optional_size;
  if (table + std::size_t{sections} * 40 > data.size()) return bad("truncated section table");
  for (std::size_t i = 0; i < sections; ++i) {
    std::size_t at = table + i * 40;
    PeSection section;
    section.name = data.substr(at, 8);
    section.name.resize(std::strlen(section.name.c_str()));
    section.virtual_size = read_le<std::uint32_t>(data, at + 8);
    section.virtual_address = read_le<std::uint32_t>(data, at + 12);
    section.raw_size = read_le<std::uint32_t>(data, at + 16);
    section.raw_offset = read_le<std::uint32_t>(data, at + 20);
    section.characteristics = read_le<std::uint32_t>(data, at + 36);
    image.sections.push_back(std::move(section));
  }
  return image;
}

Status set_pe_timestamp(const std::filesystem::path& path, std::uint32_t timestamp) {
  auto data = CAIRN_TRY(read_file(path));
  CAIRN_TRY(read_pe(path));  // validates the headers read below
  auto put32 = [&](std::size_t offset, std::uint32_t value) {
    for (std::size_t i = 0; i < 4; ++i) data[offset + i] = static_cast<char>(value >> (8 * i));
  };
  std::size_t coff = read_le<std::uint32_t>(data, 0x3c) + 4;
  std::size_t checksum_at = coff + 20 + 64;
  put32(coff + 4, timestamp);
  put32(checksum_at, 0);
  // The PE checksum: 16-bit one's-complement-style sum of the file (checksum field as zero),
  // folded, plus the file length.
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < data.size(); i += 2) {
    std::uint32_t word = static_cast<std::uint8_t>(data[i]);
    if (i + 1 < data.size())
      word |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[i + 1])) << 8;
    sum += word;
    sum = (sum & 0xffff) + (sum >> 16);
  }
  sum = (sum & 0xffff) + (sum >> 16);
  sum += data.size();
  put32(checksum_at, static_cast<std::uint32_t>(sum));
  return write_file_atomic(path, data);
}

std::vector<std::uint32_t> plan_appended_sections(const PeImage& stub,
                                                  const std::vector<std::uint64_t>& sizes) {
  std::uint64_t end = 0;
  for (const auto& section : stub.sections) {
    end = std::max<std::uint64_t>(end, std::uint64_t{section.virtual_address} +
                                           std::max(section.virtual_size, section.raw_size));
  }
  std::vector<std::uint32_t> addresses;
  std::uint64_t next = align_up(end, stub.section_alignment);
  for (auto size : sizes) {
    addresses.push_back(static_cast<std::uint32_t>(next));
    next = align_up(next + size, stub.section_alignment);
  }
  return addresses;
}

}  // namespace cairn
