#include "attest/host/quote.hpp"

#include <tss2/tss2_mu.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "common/hash.hpp"

namespace cairn::attest::host {

Expected<TPML_PCR_SELECTION> sha256_selection(std::span<const std::uint32_t> pcrs) {
  TPML_PCR_SELECTION selection{};
  selection.count = 1;
  selection.pcrSelections[0].hash = TPM2_ALG_SHA256;
  selection.pcrSelections[0].sizeofSelect = 3;
  for (std::uint32_t pcr : pcrs) {
    if (pcr >= 24) {
      return fail(Errc::invalid_input, "PCR " + std::to_string(pcr) + " is out of range (0-23)");
    }
    selection.pcrSelections[0].pcrSelect[pcr / 8] |= static_cast<std::uint8_t>(1u << (pcr % 8));
  }
  return selection;
}

Expected<std::map<std::uint32_t, Bytes>> read_pcrs(const TpmContext& tpm,
                                                   std::span<const std::uint32_t> pcrs) {
  std::set<std::uint32_t> remaining(pcrs.begin(), pcrs.end());
  std::map<std::uint32_t, Bytes> values;
  while (!remaining.empty()) {
    std::vector<std::uint32_t> wanted(remaining.begin(), remaining.end());
    auto selection = CAIRN_TRY(sha256_selection(wanted));
    UINT32 update_counter = 0;
    TPML_PCR_SELECTION* raw_out = nullptr;
    TPML_DIGEST* raw_values = nullptr;
    TSS2_RC rc = Esys_PCR_Read(tpm.esys(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &selection,
                               &update_counter, &raw_out, &raw_values);
    EsysPtr<TPML_PCR_SELECTION> out(raw_out);
    EsysPtr<TPML_DIGEST> digests(raw_values);
    if (rc != TSS2_RC_SUCCESS) return fail_tpm("reading the sha256 PCRs", rc);

    // The values come in ascending PCR order of the selection the TPM returned.
    std::size_t next = 0;
    for (std::uint32_t i = 0; i < out->count; ++i) {
      const TPMS_PCR_SELECTION& returned = out->pcrSelections[i];
      if (returned.hash != TPM2_ALG_SHA256) continue;
      for (std::uint32_t pcr = 0; pcr < 8u * returned.sizeofSelect; ++pcr) {
        if ((returned.pcrSelect[pcr / 8] & (1u << (pcr % 8))) == 0) continue;
        if (next >= digests->count) break;
        const TPM2B_DIGEST& digest = digests->digests[next++];
        values[pcr] = to_bytes(digest.buffer, digest.size);
        remaining.erase(pcr);
      }
    }
    if (next == 0) {
      return fail(Errc::io, "the TPM returned no sha256 value for PCR " +
                                std::to_string(*remaining.begin()) +
                                " (is the sha256 bank allocated?)");
    }
  }
  return values;
}

namespace {

Expected<Bytes> marshal_signature(const TPMT_SIGNATURE& signature) {
  Bytes bytes(sizeof(TPMT_SIGNATURE));
  std::size_t offset = 0;
  TSS2_RC rc = Tss2_MU_TPMT_SIGNATURE_Marshal(&signature, bytes.data(), bytes.size(), &offset);
  if (rc != TSS2_RC_SUCCESS) return fail_tpm("marshaling the quote signature", rc);
  bytes.resize(offset);
  return bytes;
}

// The pcrDigest the TPM put into the quote (our own TPM's output, so trusted to parse).
Expected<Bytes> quoted_pcr_digest(const Bytes& attest) {
  TPMS_ATTEST parsed{};
  std::size_t offset = 0;
  TSS2_RC rc = Tss2_MU_TPMS_ATTEST_Unmarshal(attest.data(), attest.size(), &offset, &parsed);
  if (rc != TSS2_RC_SUCCESS) return fail_tpm("parsing the TPM's quote", rc);
  const TPM2B_DIGEST& digest = parsed.attested.quote.pcrDigest;
  return to_bytes(digest.buffer, digest.size);
}

}  // namespace

Expected<QuoteResult> quote(const TpmContext& tpm, const LoadedKey& ak,
                            std::span<const std::uint8_t> nonce,
                            std::span<const std::uint32_t> pcrs) {
  TPM2B_DATA qualifying{};
  if (nonce.size() > sizeof qualifying.buffer) {
    return fail(Errc::invalid_input, "the nonce is " + std::to_string(nonce.size()) +
                                         " bytes, more than a quote carries");
  }
  qualifying.size = static_cast<UINT16>(nonce.size());
  std::memcpy(qualifying.buffer, nonce.data(), nonce.size());
  auto selection = CAIRN_TRY(sha256_selection(pcrs));
  std::vector<std::uint32_t> ordered(pcrs.begin(), pcrs.end());
  std::sort(ordered.begin(), ordered.end());
  ordered.erase(std::unique(ordered.begin(), ordered.end()), ordered.end());

  // A PCR extended between the quote and the read makes the values disagree with the signed
  // digest; quote again rather than send the verifier something that cannot verify.
  constexpr int kAttempts = 3;
  for (int attempt = 1;; ++attempt) {
    TPMT_SIG_SCHEME scheme{.scheme = TPM2_ALG_NULL};  // the AK's own scheme (RSASSA-SHA256)
    TPM2B_ATTEST* raw_quoted = nullptr;
    TPMT_SIGNATURE* raw_signature = nullptr;
    TSS2_RC rc =
        Esys_Quote(tpm.esys(), ak.handle.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                   &qualifying, &scheme, &selection, &raw_quoted, &raw_signature);
    EsysPtr<TPM2B_ATTEST> quoted(raw_quoted);
    EsysPtr<TPMT_SIGNATURE> signature(raw_signature);
    if (rc != TSS2_RC_SUCCESS) return fail_tpm("quoting the PCRs with the AK", rc);

    QuoteResult result;
    result.attest = to_bytes(quoted->attestationData, quoted->size);
    result.signature = CAIRN_TRY(marshal_signature(*signature));
    result.pcrs = CAIRN_TRY(read_pcrs(tpm, ordered));
    Sha256 hash;
    for (const auto& [pcr, value] : result.pcrs) hash.update(value);
    auto digest = hash.finish();
    auto signed_digest = CAIRN_TRY(quoted_pcr_digest(result.attest));
    if (std::equal(digest.begin(), digest.end(), signed_digest.begin(), signed_digest.end())) {
      return result;
    }
    if (attempt == kAttempts) {
      return fail(Errc::io, "the PCRs kept changing while quoting (" + std::to_string(kAttempts) +
                                " attempts)");
    }
  }
}

}  // namespace cairn::attest::host
