// Enrolling a SoftTpm with a cairn-verifier over its protocol, the host's side done in software:
// POST /v1/enroll, ActivateCredential (soft_credential.hpp), POST /v1/enroll/activate. For
// programs that talk to a verifier in another process (bench/verify-http, the replicas test),
// whatever HTTP client they use.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "unit/attest/soft_tpm.hpp"

namespace cairn::attest::testing {

struct HttpReply {
  int status = 0;  // 0: no answer
  std::string body;
  std::string error;  // the transport's, when there was no answer
};
using HttpPost = std::function<HttpReply(const std::string& path, const std::string& body)>;

// What went wrong, or std::nullopt once enrolled. The activation may go to another verifier
// replica than the enrollment did.
std::optional<std::string> enroll_soft_tpm(const HttpPost& enroll_post,
                                           const HttpPost& activate_post, const SoftTpm& tpm,
                                           const std::string& host);

}  // namespace cairn::attest::testing
