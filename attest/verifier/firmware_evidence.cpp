#include "attest/verifier/firmware_evidence.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "attest/verifier/uefi_variable.hpp"
#include "common/hash.hpp"

namespace cairn::attest::verifier {

namespace {

std::string describe(const fw::Event& event) {
  char type[16];
  std::snprintf(type, sizeof type, "0x%08x", event.type);
  auto name = fw::event_type_name(event.type);
  return "PCR " + std::to_string(event.pcr) + " " + (name.empty() ? type : std::string(name)) +
         " at offset " + std::to_string(event.offset);
}

// The event's data as a UEFI variable, when its sha256 digest covers exactly that data.
std::optional<UefiVariable> bound_variable(const fw::Event& event,
                                           const std::vector<std::uint8_t>& digest,
                                           FirmwareEvidence& out) {
  auto variable = parse_uefi_variable(event.data);
  if (!variable) {
    out.forged_variables.push_back(describe(event) + ": " + variable.error().message());
    return std::nullopt;
  }
  auto actual = sha256(event.data);
  if (!std::equal(actual.begin(), actual.end(), digest.begin(), digest.end())) {
    out.forged_variables.push_back(describe(event) + " (" + variable->name +
                                   "): its data does not hash to its sha256 digest");
    return std::nullopt;
  }
  return std::move(*variable);
}

}  // namespace

FirmwareEvidence read_firmware_evidence(const fw::EventLog& log,
                                        std::span<const std::uint32_t> attested) {
  FirmwareEvidence out;
  out.replayed = fw::replay(log, fw::kAlgSha256);
  for (const auto& event : log.events) {
    if (std::find(attested.begin(), attested.end(), event.pcr) == attested.end()) continue;
    if (!fw::is_known_event_type(event.type)) {
      out.unknown_events.push_back(describe(event));
      continue;
    }
    if (event.type == fw::kEvNoAction) continue;  // never extended
    const fw::Digest* digest = event.digest(fw::kAlgSha256);
    if (!digest) {
      out.missing_sha256.push_back(describe(event));
      continue;
    }
    if (event.pcr == 4 && event.type == fw::kEvEfiBootServicesApplication) {
      out.boot_applications.push_back(to_hex(digest->bytes));
    }
    if (event.pcr != 7) continue;
    if (event.type == fw::kEvEfiVariableDriverConfig) {
      auto variable = bound_variable(event, digest->bytes, out);
      if (variable && variable->guid == kEfiGlobalVariable && variable->name == "SecureBoot") {
        out.secure_boot_values.push_back(std::move(variable->data));
      }
    } else if (event.type == fw::kEvEfiVariableAuthority) {
      auto variable = bound_variable(event, digest->bytes, out);
      if (variable && variable->guid == kEfiImageSecurityDatabase && variable->name == "db") {
        out.db_authorities.push_back(std::move(variable->data));
      }
    }
  }
  return out;
}

}  // namespace cairn::attest::verifier
