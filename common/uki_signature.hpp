// Whether a UKI would pass Secure Boot: a PE image whose Authenticode signature (a PKCS#7
// SignedData over SpcIndirectDataContent in the certificate table) chains to the db certificate,
// and whose signed digest is the image's own Authenticode digest. cairn-build refuses to bundle a
// UKI that fails this, and the installer refuses to install one: firmware would refuse to start
// it, and each refusal costs a boot try.
#pragma once

#include <openssl/x509.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>

#include "common/error.hpp"

namespace cairn {

// The Secure Boot db certificate an image ships (cairn-build copies its keys' trust/ there).
inline constexpr std::string_view kImageDbCertificate = "/usr/share/cairn/trust/db.crt";

// Errc::invalid_input with one reason ("<name>: ..."): not a PE32+ image, unsigned, a malformed
// or truncated certificate table, a signer that does not chain to `db_cert` (expiry is ignored,
// as UEFI ignores it), or a signed digest other than the image's. SHA-256 signatures only.
Status check_uki_signature(std::span<const std::uint8_t> image, X509* db_cert,
                           std::string_view name);

// The same for a file, against the first certificate of a PEM file; errors reading either file
// keep their own codes (Errc::not_found, Errc::io).
Status check_uki_signature(const std::filesystem::path& uki,
                           const std::filesystem::path& db_cert_pem);

}  // namespace cairn
