// What the verifier remembers between requests: enrolled hosts, pending enrollments, granted
// nonces and image versions. Plain values: the store persists them, the policy reads them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/golden_measurements.hpp"

namespace cairn::attest::verifier {

using Bytes = std::vector<std::uint8_t>;

// The last verdict on a host's quote, kept for the fleet view (`hosts`, metrics).
struct LastVerdict {
  bool admitted = false;
  std::string image_version;  // "name version" the verdict named; empty when none matched
  std::int64_t at = 0;        // unix seconds
};
// "admitted" or "denied": the word the store, the listing and the metrics use for a verdict.
std::string_view verdict_result_name(bool admitted);

// TPMS_CLOCK_INFO's resetCount and clock, as a quote carries them.
struct QuoteClock {
  std::uint32_t reset_count = 0;
  std::uint64_t clock = 0;
};

// A host whose EK and AK were proven to share a TPM (credential activation).
struct HostRecord {
  std::string name;
  Bytes ek_public;                      // TPM2B_PUBLIC as enrolled
  std::string ek_sha256;                // hex SHA-256 of ek_public: the TPM's identity
  std::optional<Bytes> ek_certificate;  // DER
  Bytes ak_public;                      // TPM2B_PUBLIC
  Bytes ak_name;                        // TPM2B_NAME content (nameAlg || digest)
  std::int64_t enrolled_at = 0;
  // TPMS_CLOCK_INFO of the last admitted quote: a TPM's resetCount never goes back, and within
  // one reset its clock never does either, so an older quote replayed later is caught.
  std::optional<std::uint32_t> last_reset_count;
  std::optional<std::uint64_t> last_clock;
  std::optional<LastVerdict> last_verdict;  // none until its first quote
};

// An enrollment waiting for the host to prove it could activate the credential.
struct PendingEnrollment {
  std::string id;  // hex, random
  std::string host;
  Bytes ek_public;
  std::optional<Bytes> ek_certificate;
  Bytes ak_public;
  Bytes secret_sha256;  // of the secret make_credential protected
  std::int64_t expires_at = 0;
};

// A nonce granted to a host for one quote.
struct NonceRecord {
  Bytes nonce;
  std::string host;
  std::int64_t issued_at = 0;
  std::int64_t expires_at = 0;
  bool used = false;
};

enum class ImageState { approved, revoked };
std::string_view image_state_name(ImageState state);

// An image version the operator loaded from a signed measurements.json.
struct ImageVersion {
  GoldenMeasurements measurements;
  ImageState state = ImageState::approved;
  std::int64_t loaded_at = 0;
  Bytes db_certificate_der;  // measurements.secure_boot_db_pem as DER, for the PCR 7 check

  std::string label() const { return measurements.name + " " + measurements.version; }
};

// Builds an ImageVersion, converting the db certificate to DER (Errc::invalid_input if the PEM
// holds no certificate).
Expected<ImageVersion> make_image_version(GoldenMeasurements measurements, ImageState state,
                                          std::int64_t loaded_at);

}  // namespace cairn::attest::verifier
