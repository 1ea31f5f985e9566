// The checks that compare a host's measurements with an image version the operator approved:
// which version the booted UKI is (PCR 4), and that PCR 7, 11, 12 and 13 show what that version
// predicts. Part of verify_quote (policy.hpp).
#pragma once

#include <map>
#include <span>

#include "attest/verifier/checks.hpp"
#include "attest/verifier/firmware_evidence.hpp"
#include "attest/verifier/records.hpp"

namespace cairn::attest::verifier {

struct ImageEvidence {
  std::span<const ImageVersion> images;                  // approved and revoked
  const FirmwareEvidence* evidence = nullptr;            // null: the event log did not parse
  const std::map<std::uint32_t, Bytes>* pcrs = nullptr;  // as submitted (bound by pcr-digest)
};

// Adds image-known, image-not-revoked, pcr4-boot-chain, pcr11-sections, pcr11-phase,
// db-authority, pcr12, pcr13. Returns the version the UKI belongs to (revoked ones too), or null.
const ImageVersion* check_image(const ImageEvidence& in, Checks& checks);

}  // namespace cairn::attest::verifier
