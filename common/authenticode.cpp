#include "common/authenticode.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/fs.hpp"
#include "common/little_endian.hpp"

namespace cairn {

namespace {

constexpr std::uint16_t kPe32PlusMagic = 0x20b;
constexpr std::size_t kCertificateTableEntry = 4;  // index in the data directories

struct Range {
  std::size_t offset, size;
};

}  // namespace

Expected<Sha256Digest> authenticode_sha256(const std::filesystem::path& pe_file) {
  std::string image = CAIRN_TRY(read_file(pe_file));
  return authenticode_sha256(image, pe_file.string());
}

namespace {

// The header fields the digest skips or walks, checked to lie within the image.
struct Headers {
  std::size_t checksum, certificate_entry, headers_size, section_table, sections;
  CertificateTable certificates;
};

Expected<Headers> read_headers(std::string_view image, std::string_view what) {
  auto bad = [&](const std::string& why) {
    return fail(Errc::invalid_input, std::string(what) + ": not a PE32+ image (" + why + ")");
  };
  auto fits = [&](std::size_t offset, std::size_t size) {
    return offset <= image.size() && size <= image.size() - offset;
  };
  if (!fits(0, 0x40) || image[0] != 'M' || image[1] != 'Z') return bad("no MZ header");
  std::size_t pe = le32(image, 0x3c);
  if (!fits(pe, 24) || image.compare(pe, 4, std::string_view("PE\0\0", 4)) != 0) {
    return bad("no PE signature");
  }
  std::size_t optional = pe + 24;
  std::size_t optional_size = le16(image, pe + 20);
  if (!fits(optional, optional_size) || optional_size < 112 + 8 * (kCertificateTableEntry + 1)) {
    return bad("optional header too short");
  }
  if (le16(image, optional) != kPe32PlusMagic) return bad("optional header magic");
  if (le32(image, optional + 108) <= kCertificateTableEntry) return bad("no certificate entry");
  Headers headers{.checksum = optional + 64,
                  .certificate_entry = optional + 112 + 8 * kCertificateTableEntry,
                  .headers_size = le32(image, optional + 60),
                  .section_table = optional + optional_size,
                  .sections = le16(image, pe + 6)};
  headers.certificates = {le32(image, headers.certificate_entry),
                          le32(image, headers.certificate_entry + 4)};
  if (!fits(0, headers.headers_size) || headers.headers_size < headers.certificate_entry + 8 ||
      !fits(headers.section_table, 40 * headers.sections) ||
      headers.certificates.size > image.size()) {
    return bad("headers out of bounds");
  }
  return headers;
}

}  // namespace

Expected<CertificateTable> authenticode_certificate_table(std::string_view image,
                                                          std::string_view what) {
  return CAIRN_TRY(read_headers(image, what)).certificates;
}

Expected<Sha256Digest> authenticode_sha256(std::string_view image, std::string_view what) {
  auto bad = [&](const std::string& why) {
    return fail(Errc::invalid_input, std::string(what) + ": not a PE32+ image (" + why + ")");
  };
  auto fits = [&](std::size_t offset, std::size_t size) {
    return offset <= image.size() && size <= image.size() - offset;
  };
  Headers headers = CAIRN_TRY(read_headers(image, what));
  std::size_t checksum = headers.checksum, certificate_entry = headers.certificate_entry;
  std::size_t headers_size = headers.headers_size, certificates_size = headers.certificates.size;

  Sha256 hasher;
  auto hash = [&](Range range) { hasher.update(image.substr(range.offset, range.size)); };
  hash({0, checksum});
  hash({checksum + 4, certificate_entry - checksum - 4});
  hash({certificate_entry + 8, headers_size - certificate_entry - 8});

  std::vector<Range> raw;
  for (std::size_t i = 0; i < headers.sections; ++i) {
    std::size_t header = headers.section_table + 40 * i;
    Range range{le32(image, header + 20), le32(image, header + 16)};
    if (range.size == 0) continue;
    if (!fits(range.offset, range.size))
      return bad("section " + std::to_string(i) + " out of bounds");
    raw.push_back(range);
  }
  std::sort(raw.begin(), raw.end(), [](Range a, Range b) { return a.offset < b.offset; });
  std::size_t hashed = headers_size;
  for (Range range : raw) {
    hash(range);
    hashed += range.size;
  }
  // Data after the sections belongs to the image, except the attribute certificates.
  if (image.size() > hashed + certificates_size) {
    hash({hashed, image.size() - hashed - certificates_size});
  }
  return hasher.finish();
}

}  // namespace cairn
