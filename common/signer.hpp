// The seam between "this needs a signature" (commits, measurements, bundles) and how signatures
// are made: detached CMS (RFC 5652, DER) by a key on disk in production, a fake in unit tests.
#pragma once

#include <string>
#include <string_view>

#include "common/error.hpp"

namespace cairn {

class Signer {
 public:
  virtual ~Signer() = default;
  // Detached signature over `data`, DER-encoded CMS SignedData.
  virtual Expected<std::string> sign(std::string_view data) = 0;
};

struct SignerIdentity {
  std::string subject;  // e.g. "CN=Cairn image signing"
  std::string issuer;
};

class SignatureVerifier {
 public:
  virtual ~SignatureVerifier() = default;
  // Checks a detached DER CMS signature over `data` and that its signer chains to a trust anchor.
  // Errc::integrity for a bad signature, Errc::crypto for an untrusted or expired signer.
  virtual Expected<SignerIdentity> verify(std::string_view data, std::string_view signature) = 0;
};

}  // namespace cairn
