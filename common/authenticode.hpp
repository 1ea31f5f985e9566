// The Authenticode digest of a PE/COFF image: what sbsign signs and what UEFI firmware measures
// into PCR 4 (EV_EFI_BOOT_SERVICES_APPLICATION) when it starts systemd-boot or a UKI. Golden
// measurements and boot tests compare against it.
#pragma once

#include <filesystem>

#include "common/error.hpp"
#include "common/hash.hpp"

namespace cairn {

// SHA-256 over the headers without the checksum and the certificate-table entry, the sections
// in file order and any trailing data except the attribute certificates. PE32+ only.
Expected<Sha256Digest> authenticode_sha256(const std::filesystem::path& pe_file);

}  // namespace cairn
