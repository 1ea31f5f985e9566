// The attestation wire protocol between cairn-attest (host) and cairn-verifier: JSON over HTTP,
// binary TPM structures base64-encoded exactly as the TPM produced them (TPM2B_PUBLIC etc. in
// TPM wire format, big-endian), so the verifier parses and checks them itself.
//
//   POST /v1/enroll            EnrollRequest        → EnrollChallenge
//   POST /v1/enroll/activate   EnrollActivation     → EnrollResult
//   POST /v1/nonce             NonceRequest         → NonceGrant
//   POST /v1/attest            QuoteSubmission      → Verdict
//   GET  /v1/token-key                              → {"public_key_pem": "..."}
//
// Errors: HTTP 4xx/5xx with {"error": "<one line naming what was wrong>"}.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base64.hpp"
#include "common/error.hpp"

namespace cairn::attest {

// The PCRs of the sha256 bank every quote covers (DESIGN.md "Attestation").
inline constexpr std::uint32_t kQuotedPcrs[] = {0, 1, 2, 3, 4, 5, 7, 9, 11, 12, 13, 14, 15};

// Host → verifier: "this EK and this AK live in my TPM".
struct EnrollRequest {
  std::string host;                           // host name, [A-Za-z0-9._-], unique in the verifier
  std::string ek_public;                      // base64 TPM2B_PUBLIC of the endorsement key
  std::optional<std::string> ek_certificate;  // base64 DER, from NV index 0x01c00002 if present
  std::string ak_public;                      // base64 TPM2B_PUBLIC of the restricted signing AK
};

// Verifier → host: TPM2_MakeCredential(EK, secret, name(AK)) made in software.
struct EnrollChallenge {
  std::string enrollment;        // opaque id of this pending enrollment
  std::string credential_blob;   // base64 TPM2B_ID_OBJECT
  std::string encrypted_secret;  // base64 TPM2B_ENCRYPTED_SECRET
  std::int64_t expires_at = 0;   // unix seconds
};

// Host → verifier: the secret ActivateCredential released, proving EK and AK share a TPM.
struct EnrollActivation {
  std::string enrollment;
  std::string secret;  // base64
};

struct EnrollResult {
  std::string host;
  std::string ak_name;  // hex TPM2B_NAME of the AK as the verifier computed it
};

struct NonceRequest {
  std::string host;
};

struct NonceGrant {
  std::string nonce;                // base64, 32 random bytes, single use
  std::int64_t expires_at = 0;      // unix seconds
  std::vector<std::uint32_t> pcrs;  // sha256 bank selection to quote (kQuotedPcrs)
};

struct QuoteSubmission {
  std::string host;
  std::string nonce;      // base64, as granted
  std::string quoted;     // base64 TPMS_ATTEST (the attestationData of the TPM2B_ATTEST)
  std::string signature;  // base64 TPMT_SIGNATURE
  std::map<std::uint32_t, std::string> pcrs;  // PCR → hex sha256 value, as read with the quote
  std::string event_log;  // base64 /sys/kernel/security/tpm0/binary_bios_measurements
  // systemd's measurement log (/run/log/systemd/tpm2-measure.log, systemd ≥ 255); bookworm's
  // systemd 252 writes none, PCR 11 is then checked against the predicted phase values.
  std::optional<std::string> systemd_log;
  std::string boot_id;  // /proc/sys/kernel/random/boot_id, bound into the token
};

struct CheckResult {
  std::string name;  // stable id, e.g. "nonce", "ak-signature", "pcr11-approved"
  bool passed = false;
  std::string detail;  // why, with the values involved
};

struct Verdict {
  std::string host;
  bool admitted = false;
  std::optional<std::string> image_version;  // "name version" of the matched approved image
  std::vector<CheckResult> checks;           // every check run, failed ones first
  std::optional<std::string> token;          // admission token (see token.hpp) when admitted
};

// JSON conversions. Parsing is strict (unknown or missing keys → Errc::invalid_input).
#define CAIRN_ATTEST_MESSAGE(Type)          \
  std::string to_json(const Type& message); \
  Expected<Type> parse_##Type(std::string_view json);
CAIRN_ATTEST_MESSAGE(EnrollRequest)
CAIRN_ATTEST_MESSAGE(EnrollChallenge)
CAIRN_ATTEST_MESSAGE(EnrollActivation)
CAIRN_ATTEST_MESSAGE(EnrollResult)
CAIRN_ATTEST_MESSAGE(NonceRequest)
CAIRN_ATTEST_MESSAGE(NonceGrant)
CAIRN_ATTEST_MESSAGE(QuoteSubmission)
CAIRN_ATTEST_MESSAGE(Verdict)
#undef CAIRN_ATTEST_MESSAGE

// Base64 moved to common/ (etcd's gateway needs it too); the names stay reachable from here.
using cairn::base64_decode;
using cairn::base64_encode;

}  // namespace cairn::attest
