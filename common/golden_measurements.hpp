// Golden measurements (measurements.json, format 1): what a host booted from one image version
// must show in its TPM. Written and signed by cairn-build for every build (predicted from the
// signed artifacts, never copied from a booted machine), loaded by cairn-verifier to approve the
// version. See DESIGN.md "Attestation".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace cairn {

// The systemd-pcrphase boot phases (systemd 252) in the order they extend PCR 11.
inline constexpr std::string_view kBootPhases[] = {"enter-initrd", "leave-initrd", "sysinit",
                                                   "ready"};

struct GoldenMeasurements {
  static constexpr int kFormat = 1;

  std::string name;     // the recipe's image name, e.g. "kvm-host"
  std::string version;  // image version, e.g. "1.0.0"
  // Authenticode SHA-256 (hex) of the signed PE images, as the firmware measures them into
  // PCR 4 (EV_EFI_BOOT_SERVICES_APPLICATION), in boot order.
  std::string systemd_boot_authenticode;
  std::string uki_authenticode;
  // SHA-256 bank, hex. PCR 11 after the stub measured the UKI's sections ("sections"), then after
  // each boot phase ("enter-initrd", …, "ready").
  std::map<std::string, std::string, std::less<>> pcr11;
  // PCR 12 and 13 as the host should show them: systemd-boot 252 measures a type-2 entry's own
  // signed .cmdline into PCR 12, so PCR 12 is that one extend (any other value = an override);
  // PCR 13 (system extensions) stays zero.
  std::string pcr12;
  std::string pcr13;
  // The Secure Boot db certificate that signed the boot chain: PEM, and its SHA-256 fingerprint
  // (hex, of the DER) and subject, for the PCR 7 EV_EFI_VARIABLE_AUTHORITY check.
  std::string secure_boot_db_pem;
  std::string secure_boot_db_sha256;
  std::string secure_boot_db_subject;
  // The SignatureOwner GUID of the db entry (lowercase, "8-4-4-4-12"), as the firmware logs it
  // in EFI_SIGNATURE_DATA; empty: not checked (measurements written before Cairn recorded it).
  std::string secure_boot_db_owner;
};

// The SignatureOwner of every EFI signature list Cairn's keys make (PK, KEK, db).
inline constexpr std::string_view kCairnSignatureOwner = "c41a7c1e-ca1e-4a1e-9a0e-ca1e00000001";

// True for a GUID written "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" in lowercase hex.
bool is_guid_text(std::string_view text);

// Strict: unknown keys, missing keys, a wrong format number or malformed hex are
// Errc::invalid_input naming the key.
Expected<GoldenMeasurements> parse_golden_measurements(std::string_view json);
// Canonical JSON (stable key order, two-space indent, trailing newline): reproducible builds.
std::string to_json(const GoldenMeasurements& measurements);

}  // namespace cairn
