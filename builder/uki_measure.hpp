// What the boot chain of a Cairn image (Debian 12: systemd-boot and systemd-stub 252) will
// measure for one UKI, predicted from the UKI file alone: PCR 11 (the stub's section measurements,
// then systemd-pcrphase's boot phases) and PCR 12 (systemd-boot's measurement of the entry's load
// options). cairn-build writes these into measurements.json; a verifier compares a host's quote.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "common/hash.hpp"

namespace cairn {

// systemd 252 src/fundamental/tpm-pcr.h: the UKI sections systemd-stub measures into PCR 11, in
// the order it measures them (not the file's order). .pcrsig is known but never measured; .uname
// and .sbat only became measured sections in systemd 253, so 252 leaves them out.
inline constexpr std::string_view kStubMeasuredSections[] = {
    ".linux", ".osrel", ".cmdline", ".initrd", ".splash", ".dtb", ".pcrpkey"};

struct MeasuredSection {
  std::string name;
  std::uint32_t size = 0;  // the section's VirtualSize: what the stub hashes from memory
  Sha256Digest digest{};   // SHA-256 of those bytes
};

struct UkiMeasurements {
  // What the stub measured, in its order: per section, SHA-256(name + NUL) then `digest`.
  std::vector<MeasuredSection> sections;
  Sha256Digest pcr11_sections{};  // PCR 11 (sha256 bank) right after the stub
  // PCR 11 after each phase in kBootPhases (common/golden_measurements.hpp), in that order.
  std::vector<std::pair<std::string, Sha256Digest>> pcr11_phases;
  // The load options systemd-boot hands the UKI (its .cmdline, one trailing newline chomped) and
  // PCR 12 after systemd-boot measured them (UTF-16LE with the terminating NUL).
  std::string load_options;
  Sha256Digest pcr12{};
};

// new PCR = SHA-256(pcr || digest), the sha256 bank's extend.
Sha256Digest extend_sha256(const Sha256Digest& pcr, const Sha256Digest& digest);

// The load options as systemd-boot 252 measures them: UTF-16LE plus a NUL character. ASCII only
// (systemd's conversion of other bytes changed between releases): anything else is
// Errc::invalid_input.
Expected<std::string> load_options_utf16(std::string_view options);

// Errc::invalid_input for a file that is no PE32+ image, has no .linux, no or an empty .cmdline,
// or a measured section whose bytes lie outside the file.
Expected<UkiMeasurements> predict_uki_measurements(const std::filesystem::path& uki);

}  // namespace cairn
