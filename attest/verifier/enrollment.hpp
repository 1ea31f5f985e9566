// Enrollment by credential activation: the verifier protects a random secret with
// TPM2_MakeCredential(EK, secret, name(AK)); only the TPM holding that EK, with that AK loaded,
// gives it back (ActivateCredential), which proves the AK is a key of the same TPM.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>

#include "attest/protocol.hpp"
#include "attest/verifier/seams.hpp"
#include "attest/verifier/store.hpp"

namespace cairn::attest::verifier {

inline constexpr std::chrono::seconds kEnrollmentLifetime{60};

class Enrollment {
 public:
  // `ek_ca`: a directory (or file) of CA certificates; when set, an EK certificate the host
  // sends must chain to one of them and certify its EK. Hosts without a certificate are
  // accepted either way (swtpm without --create-ek-cert, TPMs without one in NV).
  Enrollment(Store& store, Seams seams, std::optional<std::filesystem::path> ek_ca = {})
      : store_(store), seams_(std::move(seams)), ek_ca_(std::move(ek_ca)) {}

  // Parses and checks the EK and AK, refuses a host name enrolled with another EK, stores a
  // pending enrollment and answers the credential. Errc::invalid_input for malformed keys or
  // names, Errc::permission for another EK, Errc::crypto for an EK certificate that does not
  // verify.
  Expected<EnrollChallenge> begin(const EnrollRequest& request);

  // Takes the pending enrollment (single use: a wrong secret spends it too), checks it has not
  // expired and the secret (constant time), then enrolls the host: a new host, or the same EK
  // with a new AK. Errc::not_found for an unknown or spent enrollment, Errc::crypto for a wrong
  // secret, Errc::invalid_input for an expired one.
  Expected<EnrollResult> activate(const EnrollActivation& activation);

 private:
  Status check_ek_certificate(const Bytes& certificate, const Bytes& ek_public);
  Status check_same_ek(std::string_view host, const std::string& ek_sha256);

  Store& store_;
  Seams seams_;
  std::optional<std::filesystem::path> ek_ca_;
};

// Host names: 1-64 of [A-Za-z0-9._-], not starting with '.' or '-'.
bool is_valid_host_name(std::string_view name);

}  // namespace cairn::attest::verifier
