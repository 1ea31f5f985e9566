// The host's side of the wire protocol (attest/protocol.hpp): the four calls the agent makes,
// behind an interface so the flows are tested with a fake verifier.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "attest/protocol.hpp"

namespace cairn::attest::host {

// Errors: Errc::unavailable when the verifier cannot be reached, times out or fails (5xx, an
// answer that does not parse); Errc::permission when it refuses the request (4xx), with the
// verifier's own "error" message.
class VerifierClient {
 public:
  virtual ~VerifierClient() = default;
  virtual Expected<EnrollChallenge> enroll(const EnrollRequest& request) = 0;
  virtual Expected<EnrollResult> activate(const EnrollActivation& activation) = 0;
  virtual Expected<NonceGrant> nonce(const NonceRequest& request) = 0;
  // A denial is a Verdict with admitted == false, not an error.
  virtual Expected<Verdict> attest(const QuoteSubmission& submission) = 0;
  // The signed revocation list, as text (attest/revocations.hpp checks it).
  virtual Expected<std::string> revocations() = 0;
};

struct HttpOptions {
  std::chrono::seconds connect_timeout{5};
  std::chrono::seconds timeout{30};  // whole request
  // https: the CAs the verifier's certificate must chain to (PEM); empty: the system's.
  std::filesystem::path ca_file;
};

// libcurl over http:// or https:// (options.ca_file, else the system CA store). `base_url` e.g.
// "https://verifier:8740".
Expected<std::unique_ptr<VerifierClient>> make_http_verifier_client(std::string base_url,
                                                                    HttpOptions options = {});

// An HTTP answer → the verifier's error as a cairn::Error (exposed for tests): the "error"
// field of a JSON body when there is one, else the status line.
Error http_error(std::string_view url, long status, std::string_view body);

}  // namespace cairn::attest::host
