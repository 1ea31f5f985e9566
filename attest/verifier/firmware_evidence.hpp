// What the policy reads out of a firmware event log, beyond the replayed PCR values: the boot
// applications in PCR 4, the Secure Boot state and db authorities in PCR 7, and events it must
// refuse. The log itself is untrusted: only the digests are bound to the quote (through the
// replay), so an event's data counts only when its sha256 digest is H(data).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "common/eventlog.hpp"

namespace cairn::attest::verifier {

// The event log parser (common/eventlog.hpp) lives in cairn::tpm, which cairn::attest::tpm (the
// TPM structures) would hide here.
namespace fw = ::cairn::tpm;

struct FirmwareEvidence {
  // sha256 bank replay: every PCR the log extends.
  std::map<std::uint32_t, std::vector<std::uint8_t>> replayed;
  // hex sha256 (Authenticode) digests of PCR 4 EV_EFI_BOOT_SERVICES_APPLICATION, in log order.
  std::vector<std::string> boot_applications;
  // Events in attested PCRs of a type common/eventlog.hpp does not know, described.
  std::vector<std::string> unknown_events;
  // Events in attested PCRs that carry no sha256 digest (the replay would skip them), described.
  std::vector<std::string> missing_sha256;
  // The data byte(s) of every PCR 7 EV_EFI_VARIABLE_DRIVER_CONFIG for EFI_GLOBAL_VARIABLE
  // "SecureBoot" whose digest matches its data, in log order.
  std::vector<std::vector<std::uint8_t>> secure_boot_values;
  // The VariableData (EFI_SIGNATURE_DATA: owner GUID + certificate DER) of every PCR 7
  // EV_EFI_VARIABLE_AUTHORITY for "db" whose digest matches its data.
  std::vector<std::vector<std::uint8_t>> db_authorities;
  // PCR 7 variable events whose data is malformed or does not hash to their digest, described.
  std::vector<std::string> forged_variables;
};

// `attested`: the PCRs of the quote; events in other PCRs are not looked at.
FirmwareEvidence read_firmware_evidence(const fw::EventLog& log,
                                        std::span<const std::uint32_t> attested);

}  // namespace cairn::attest::verifier
