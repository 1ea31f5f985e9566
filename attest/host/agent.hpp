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
  // The serial of the revocation list the token's image was checked against; none: no list.
  std::optional<std::int64_t> revocation_serial;
};
// Checks config.token with the key in config.verifier_key for the boot in config.boot_id at
// `now`. Errors only for a missing or unreadable key (configuration); a missing, malformed,
// expired or other-boot token is a TokenCheck with valid == false.
//
// With a `verifier`, the token's image must not be on the newest revocation list known: the
// verifier's (kept next to the token when it is at least as new as the kept one), or, while the
// verifier cannot be reached, the kept one until it expires. A list that does not verify with
// the token key, or is older than the kept one, is ignored.
Expected<TokenCheck> check_token(const AgentConfig& config,
                                 std::chrono::system_clock::time_point now,
                                 VerifierClient* verifier = nullptr);

// Where check_token keeps the newest revocation list: next to the token.
std::filesystem::path revocation_list_path(const AgentConfig& config);

// The current boot id (the file's single line, without the newline).
Expected<std::string> read_boot_id(const std::filesystem::path& path);

}  // namespace cairn::attest::host
