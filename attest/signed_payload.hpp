// What the verifier signs for hosts to check offline (admission tokens, the revocation list):
// "<base64url(payload JSON)>.<base64url(DER signature)>", ECDSA P-256 / SHA-256 over the first
// part, by the verifier's token key. Each payload names what it is, so one cannot stand in for
// another.
#pragma once

#include <string>
#include <string_view>

#include "common/error.hpp"
#include "common/openssl.hpp"

namespace cairn::attest {

bool is_p256(EVP_PKEY* key);

// `what` ("token", "revocation list") prefixes error messages.
Expected<std::string> sign_payload(std::string_view payload, EVP_PKEY* key, std::string_view what);

// The payload, once its signature verifies with `public_key`. Errc::integrity for a malformed
// text or a signature that does not verify, Errc::crypto for a key that is not P-256.
Expected<std::string> open_signed_payload(std::string_view text, EVP_PKEY* public_key,
                                          std::string_view what);

}  // namespace cairn::attest
