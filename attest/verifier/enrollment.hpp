// Enrollment by credential activation: the verifier protects a random secret with
// TPM2_MakeCredential(EK, secret, name(AK)); only the TPM holding that EK, with that AK loaded,
// gives it back (ActivateCredential), which proves the AK is a key of the same TPM.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>

#include "attest/protocol.hpp"
#include "attest/verifier/seams.hpp"
#include "attest/verifier/store.hpp"

namespace cairn::attest::verifier {

inline constexpr std::chrono::seconds kEnrollmentLifetime{60};

// Which TPMs may enroll. An EK certificate chaining to the EK CA is what tells a real TPM from a
// software one: without it, any TPM (swtpm included) could enroll.
struct EkPolicy {
  // A directory (or file) of CA certificates every EK certificate must chain to.
  std::optional<std::filesystem::path> ca;
  // A lab whose TPMs carry no EK certificate (swtpm without --create-ek-cert) opts in here;
  // every such enrollment is logged. Without it a host with no certificate is refused, and so
  // is one whose certificate no configured CA can check.
  bool allow_without_certificate = false;
  std::function<void(const std::string&)> log;
};

class Enrollment {
 public:
  Enrollment(Store& store, Seams seams, EkPolicy ek_policy)
      : store_(store), seams_(std::move(seams)), ek_policy_(std::move(ek_policy)) {}

  // Parses and checks the EK and AK, refuses a host name enrolled with another EK and an EK
  // enrolled under another name, stores a pending enrollment and answers the credential.
  // Errc::invalid_input for malformed keys or names, Errc::permission for another EK or name,
  // Errc::crypto for an EK certificate that is missing or does not verify.
  Expected<EnrollChallenge> begin(const EnrollRequest& request);

  // Takes the pending enrollment (single use: a wrong secret spends it too), checks it has not
  // expired and the secret (constant time), then enrolls the host: a new host, or the same EK
  // with a new AK (whose quotes start a new clock history: TPM 2.0 obfuscates resetCount and
  // clock per signing key outside the endorsement hierarchy). Errc::not_found for an unknown or
  // spent enrollment, Errc::crypto for a wrong secret, Errc::invalid_input for an expired one.
  Expected<EnrollResult> activate(const EnrollActivation& activation);

 private:
  Status check_ek_certificate(const std::optional<Bytes>& certificate, const Bytes& ek_public);
  Status check_same_ek(std::string_view host, const std::string& ek_sha256);

  Store& store_;
  Seams seams_;
  EkPolicy ek_policy_;
};

// Host names: 1-64 of [A-Za-z0-9._-], not starting with '.' or '-'.
bool is_valid_host_name(std::string_view name);

}  // namespace cairn::attest::verifier
