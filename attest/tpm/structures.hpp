// TPM 2.0 structures as the verifier receives them from a host it does not trust: TPMS_ATTEST
// (a quote), TPM2B_PUBLIC (EK, AK), TPMT_SIGNATURE. Unmarshalled with tss2-mu, then checked here:
// Debian's tpm2-tss 3.2.1 predates the fixes for CVE-2024-29038/29039/29040, so nothing is
// trusted because it parsed (magic, type, sizes and attributes are checked by this code).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/openssl.hpp"

namespace cairn::attest::tpm {

inline constexpr std::uint32_t kGeneratedValue = 0xff544347;  // TPM_GENERATED_VALUE
inline constexpr std::uint16_t kStAttestQuote = 0x8018;       // TPM_ST_ATTEST_QUOTE

using Bytes = std::vector<std::uint8_t>;

struct PcrSelection {
  std::uint16_t hash = 0;           // TPM_ALG_ID
  std::vector<std::uint32_t> pcrs;  // ascending
};

struct ClockInfo {
  std::uint64_t clock = 0;
  std::uint32_t reset_count = 0;
  std::uint32_t restart_count = 0;
  bool safe = false;
};

// A parsed TPMS_ATTEST of type quote. Parsing checks sizes only; magic and type are returned so
// the verifier can name them in its verdict.
struct Quote {
  std::uint32_t magic = 0;
  std::uint16_t type = 0;
  Bytes qualified_signer;  // TPM2B_NAME
  Bytes extra_data;        // the verifier's nonce
  ClockInfo clock;
  std::uint64_t firmware_version = 0;
  std::vector<PcrSelection> selection;
  Bytes pcr_digest;
};
// Errc::integrity for truncated, oversized or trailing bytes.
Expected<Quote> parse_quote(std::span<const std::uint8_t> attest);

// A public key from a TPM2B_PUBLIC: the OpenSSL key, the TPM name (nameAlg || H(TPMT_PUBLIC)),
// the object attributes.
struct PublicKey {
  EvpPkeyPtr key;
  Bytes name;
  std::uint32_t attributes = 0;
  std::uint16_t type = 0;  // TPM_ALG_RSA or TPM_ALG_ECC
  std::uint16_t name_alg = 0;
  std::uint16_t scheme = 0;       // TPM_ALG_RSASSA, _RSAPSS, _ECDSA or _NULL (decrypt keys)
  std::uint16_t scheme_hash = 0;  // the scheme's TPM_ALG_ID hash, _NULL without a scheme
  Bytes marshaled;                // the TPM2B_PUBLIC as received
};
// Any RSA or ECC (NIST P-256) key.
Expected<PublicKey> parse_public(std::span<const std::uint8_t> tpm2b_public);
// An attestation key: restricted, sign, not decrypt, fixedTPM, fixedParent, sensitiveDataOrigin;
// RSASSA-SHA256, RSAPSS-SHA256 or ECDSA-SHA256 scheme. Errc::invalid_input naming the missing
// property.
Expected<PublicKey> parse_attestation_key(std::span<const std::uint8_t> tpm2b_public);
// An endorsement key: restricted decrypt storage key (RSA 2048 or ECC P-256, AES-128-CFB).
Expected<PublicKey> parse_endorsement_key(std::span<const std::uint8_t> tpm2b_public);

// Checks a TPMT_SIGNATURE over `signed_data` (the TPMS_ATTEST bytes) with the AK: the signature's
// scheme and hash must be the AK's own. Errc::integrity when it does not verify.
Status verify_signature(const PublicKey& ak, std::span<const std::uint8_t> signed_data,
                        std::span<const std::uint8_t> tpmt_signature);

// SHA-256 over the concatenated PCR values in selection order, as TPM2_Quote computes pcrDigest.
// Empty (equal to no real digest) when a selected PCR has no value or one not 32 bytes long.
Bytes pcr_digest(const std::map<std::uint32_t, Bytes>& values, const PcrSelection& selection);

// TPM2_MakeCredential in software (TPM 2.0 Part 1, 24.4 "Credential Protection"): protects
// `secret` so that only the TPM holding `ek`, with an object named `ak_name` loaded, releases it
// through TPM2_ActivateCredential. `secret`: 1 to digest-size (nameAlg of the EK) bytes;
// `ak_name`: a TPM2B_NAME's bytes (nameAlg || digest). RSA EKs: OAEP-wrapped seed; ECC EKs:
// ephemeral ECDH + KDFe.
struct Credential {
  Bytes credential_blob;   // TPM2B_ID_OBJECT, marshaled
  Bytes encrypted_secret;  // TPM2B_ENCRYPTED_SECRET, marshaled
};
// `ek` as parse_endorsement_key returned it (its symmetric scheme is AES-128-CFB).
Expected<Credential> make_credential(const PublicKey& ek, std::span<const std::uint8_t> secret,
                                     std::span<const std::uint8_t> ak_name);

}  // namespace cairn::attest::tpm
