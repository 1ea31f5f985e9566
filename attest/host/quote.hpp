// A quote: the AK's signature over the selected sha256 PCRs and the verifier's nonce, with the
// PCR values it covers (read right after, and checked against the quote's own digest so a PCR
// extended in between never reaches the verifier as a false mismatch).
#pragma once

#include <cstdint>
#include <map>
#include <span>

#include "attest/host/keys.hpp"

namespace cairn::attest::host {

struct QuoteResult {
  Bytes attest;                         // TPMS_ATTEST, the attestationData of the TPM2B_ATTEST
  Bytes signature;                      // TPMT_SIGNATURE, marshaled
  std::map<std::uint32_t, Bytes> pcrs;  // sha256 bank values the quote covers
};

// Builds the sha256 selection of `pcrs`; Errc::invalid_input for a PCR outside 0–23.
Expected<TPML_PCR_SELECTION> sha256_selection(std::span<const std::uint32_t> pcrs);

// Reads the sha256 values of `pcrs` (PCR_Read returns at most 8 per call, so this loops).
Expected<std::map<std::uint32_t, Bytes>> read_pcrs(const TpmContext& tpm,
                                                   std::span<const std::uint32_t> pcrs);

// Quotes `pcrs` (sha256) with `ak` (its own signing scheme) and `nonce` as qualifyingData.
Expected<QuoteResult> quote(const TpmContext& tpm, const LoadedKey& ak,
                            std::span<const std::uint8_t> nonce,
                            std::span<const std::uint32_t> pcrs);

}  // namespace cairn::attest::host
