// The host agent's flows, from the TPM and the verifier to the admission token on disk:
//   enroll:      EnrollRequest → challenge → ActivateCredential → EnrollActivation → result
//   attest:      nonce → event log + quote → QuoteSubmission → Verdict (+ token on admission)
//   check-token: the token on disk, for this boot, now (what the libvirt hook asks)
#pragma once

#include <chrono>
#include <optional>

#include "attest/host/attestation_tpm.hpp"
#include "attest/host/config.hpp"
#include "attest/host/verifier_client.hpp"
#include "attest/token.hpp"

namespace cairn::attest::host {

// Enrolls this TPM's AK under config.host. Errc::integrity when the verifier's AK name differs
// from ours (it did not enroll the key we hold).
Expected<EnrollResult> enroll(AttestationTpm& tpm, VerifierClient& verifier,
                              const AgentConfig& config);

// Attests this boot. On admission writes the token to config.token (atomically, mode 0600);
// on a denial removes any token there, so the gate stops admitting VMs at once. A denial is a
// Verdict with admitted == false; errors are for what kept the verdict from being reached.
Expected<Verdict> attest(AttestationTpm& tpm, VerifierClient& verifier, const AgentConfig& config);

struct TokenCheck {
  bool valid = false;
  std::string reason;                 // why not, when !valid
  std::optional<TokenClaims> claims;  // when valid
};
// Checks config.token with the key in config.verifier_key for the boot in config.boot_id at
// `now`. Errors only for a missing or unreadable key (configuration); a missing, malformed,
// expired or other-boot token is a TokenCheck with valid == false.
Expected<TokenCheck> check_token(const AgentConfig& config,
                                 std::chrono::system_clock::time_point now);

// The current boot id (the file's single line, without the newline).
Expected<std::string> read_boot_id(const std::filesystem::path& path);

}  // namespace cairn::attest::host
