// The verifier's signed list of revoked image versions (GET /v1/revocations), so that a host
// booted from a version revoked after its admission stops admitting VMs as soon as it can reach
// the verifier, rather than when its token expires. Signed like admission tokens
// (signed_payload.hpp), by the same key; hosts keep the newest list they have seen and refuse an
// older one (a replayed list could hide a revocation).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/openssl.hpp"

namespace cairn::attest {

inline constexpr std::chrono::seconds kRevocationListLifetime{3600};

struct RevocationList {
  std::int64_t serial = 0;     // grows with every list a verifier signs (its time, in ms)
  std::int64_t issued_at = 0;  // unix seconds
  std::int64_t expires_at = 0;
  std::vector<std::string> revoked;  // "name version", as admission tokens name images

  bool revokes(std::string_view image) const;
};

Expected<std::string> sign_revocation_list(const RevocationList& list, EVP_PKEY* key);

// Checks the signature with `public_key`, the shape, and that `now` < expires_at.
// Errc::integrity for a bad signature or shape, Errc::crypto for an expired list.
Expected<RevocationList> verify_revocation_list(std::string_view text, EVP_PKEY* public_key,
                                                std::chrono::system_clock::time_point now);

}  // namespace cairn::attest
