// The Authenticode digest of a PE/COFF image: what sbsign signs and what UEFI firmware measures
// into PCR 4 (EV_EFI_BOOT_SERVICES_APPLICATION) when it starts systemd-boot or a UKI. Golden
// measurements and boot tests compare against it.
#pragma once

#include <filesystem>
#include <string_view>

#include "common/error.hpp"
#include "common/hash.hpp"

namespace cairn {

// SHA-256 over the headers without the checksum and the certificate-table entry, the sections
// in file order and any trailing data except the attribute certificates. PE32+ only.
Expected<Sha256Digest> authenticode_sha256(const std::filesystem::path& pe_file);
// The same over bytes in memory; `what` names them in errors.
Expected<Sha256Digest> authenticode_sha256(std::string_view image, std::string_view what);

// The attribute certificates (WIN_CERTIFICATE entries) as the certificate-table entry of the
// data directories declares them: a file offset and a size, both zero in an unsigned image. Only
// the headers are checked, not that the table lies within the image.
struct CertificateTable {
  std::size_t offset = 0, size = 0;
};
Expected<CertificateTable> authenticode_certificate_table(std::string_view image,
                                                          std::string_view what);

}  // namespace cairn
