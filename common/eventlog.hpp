// The TCG PC Client firmware event log (crypto-agile format), as Linux exposes it in
// /sys/kernel/security/tpm0/binary_bios_measurements: what the firmware, the boot loader and
// the UKI stub measured, event by event. Replaying it must give the PCR values the TPM reports;
// the verifier (cairn-verifier) parses hostile logs with it, so every length is checked.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace cairn::tpm {

// TPM_ALG_ID values of the hash algorithms a log may carry.
inline constexpr std::uint16_t kAlgSha1 = 0x0004;
inline constexpr std::uint16_t kAlgSha256 = 0x000B;
inline constexpr std::uint16_t kAlgSha384 = 0x000C;
inline constexpr std::uint16_t kAlgSha512 = 0x000D;

// Event types (TCG PC Client Platform Firmware Profile, section 10.4.1).
inline constexpr std::uint32_t kEvPostCode = 0x1;
inline constexpr std::uint32_t kEvNoAction = 0x3;
inline constexpr std::uint32_t kEvSeparator = 0x4;
inline constexpr std::uint32_t kEvAction = 0x5;
inline constexpr std::uint32_t kEvEventTag = 0x6;
inline constexpr std::uint32_t kEvSCrtmContents = 0x7;
inline constexpr std::uint32_t kEvSCrtmVersion = 0x8;
inline constexpr std::uint32_t kEvIpl = 0xD;
inline constexpr std::uint32_t kEvEfiVariableDriverConfig = 0x80000001;
inline constexpr std::uint32_t kEvEfiVariableBoot = 0x80000002;
inline constexpr std::uint32_t kEvEfiBootServicesApplication = 0x80000003;
inline constexpr std::uint32_t kEvEfiBootServicesDriver = 0x80000004;
inline constexpr std::uint32_t kEvEfiRuntimeServicesDriver = 0x80000005;
inline constexpr std::uint32_t kEvEfiGptEvent = 0x80000006;
inline constexpr std::uint32_t kEvEfiAction = 0x80000007;
inline constexpr std::uint32_t kEvEfiPlatformFirmwareBlob = 0x80000008;
inline constexpr std::uint32_t kEvEfiHandoffTables = 0x80000009;
inline constexpr std::uint32_t kEvEfiPlatformFirmwareBlob2 = 0x8000000A;
inline constexpr std::uint32_t kEvEfiHandoffTables2 = 0x8000000B;
inline constexpr std::uint32_t kEvEfiVariableBoot2 = 0x8000000C;
inline constexpr std::uint32_t kEvEfiHcrtmEvent = 0x80000010;
inline constexpr std::uint32_t kEvEfiVariableAuthority = 0x800000E0;
inline constexpr std::uint32_t kEvEfiSpdmFirmwareBlob = 0x800000E1;
inline constexpr std::uint32_t kEvEfiSpdmFirmwareConfig = 0x800000E2;

// "EV_EFI_BOOT_SERVICES_APPLICATION"; empty for a type this parser does not know.
std::string_view event_type_name(std::uint32_t type);
bool is_known_event_type(std::uint32_t type);
// Digest size of a hash algorithm, 0 when unknown.
std::size_t digest_size(std::uint16_t algorithm);
// The OpenSSL digest of a TPM_ALG_ID (SHA-1, SHA-256, SHA-384, SHA-512); null for any other.
const EVP_MD* digest_algorithm(std::uint16_t algorithm);

struct Digest {
  std::uint16_t algorithm = 0;
  std::vector<std::uint8_t> bytes;
};

struct Event {
  std::uint32_t pcr = 0;
  std::uint32_t type = 0;
  std::vector<Digest> digests;
  std::vector<std::uint8_t> data;
  std::size_t offset = 0;  // in the log, for messages

  // The digest for `algorithm`, or nullptr.
  const Digest* digest(std::uint16_t algorithm) const;
};

struct EventLog {
  // From the Spec ID header: algorithm id → digest size.
  std::vector<std::pair<std::uint16_t, std::uint16_t>> algorithms;
  std::vector<Event> events;  // the records after the header
};

// Errc::integrity for anything malformed, naming the byte offset.
Expected<EventLog> parse_event_log(std::span<const std::uint8_t> bytes);

// new PCR = H(pcr || digest)
std::vector<std::uint8_t> extend(std::span<const std::uint8_t> pcr,
                                 std::span<const std::uint8_t> digest, std::uint16_t algorithm);

// Final value of every PCR the log touches, for one bank. PCRs start at zero, except PCR 0
// after a StartupLocality event (its last byte is the locality the firmware started from).
// EV_NO_ACTION events are never extended.
std::map<std::uint32_t, std::vector<std::uint8_t>> replay(const EventLog& log,
                                                          std::uint16_t algorithm);

}  // namespace cairn::tpm
