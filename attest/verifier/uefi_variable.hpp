// UEFI_VARIABLE_DATA (TCG PC Client Platform Firmware Profile, 10.4.2): how firmware logs the
// Secure Boot variables and the db entry that authorised an image, in PCR 7.
//   VariableName (EFI_GUID, 16) | UnicodeNameLength (u64, chars) | VariableDataLength (u64) |
//   UnicodeName (UTF-16LE) | VariableData
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace cairn::attest::verifier {

using Guid = std::array<std::uint8_t, 16>;  // as laid out in memory (EFI_GUID, little-endian)

// EFI_GLOBAL_VARIABLE {8BE4DF61-93CA-11D2-AA0D-00E098032B8C}: SecureBoot, PK, KEK.
inline constexpr Guid kEfiGlobalVariable = {0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
                                            0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c};
// EFI_IMAGE_SECURITY_DATABASE_GUID {D719B2CB-3D3A-4596-A3BC-DAD00E67656F}: db, dbx.
inline constexpr Guid kEfiImageSecurityDatabase = {0xcb, 0xb2, 0x19, 0xd7, 0x3a, 0x3d, 0x96, 0x45,
                                                   0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f};

struct UefiVariable {
  Guid guid{};
  std::string name;  // UTF-16 code units narrowed; anything outside ASCII becomes '?'
  std::vector<std::uint8_t> data;
};

// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" laid out as an EFI_GUID: the first three fields
// little-endian, the last eight bytes as written. nullopt when the text is not such a GUID.
std::optional<Guid> guid_from_text(std::string_view text);

// Errc::integrity when lengths disagree with the event's size (exactly: no trailing bytes).
Expected<UefiVariable> parse_uefi_variable(std::span<const std::uint8_t> event_data);

}  // namespace cairn::attest::verifier
