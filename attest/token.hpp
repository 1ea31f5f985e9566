// Admission tokens: the verifier's signed "this host, in this boot, runs an approved image, until
// T". The libvirt qemu hook and the health window's attestation check accept a host only while
// it holds a valid, unexpired token for its current boot.
//
// Format: "<base64url(payload JSON)>.<base64url(signature)>", ECDSA P-256 / SHA-256 over the
// first part (DER signature), by the verifier's token key.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "common/openssl.hpp"

namespace cairn::attest {

struct TokenClaims {
  std::string host;
  std::string image;              // "name version" of the approved image
  std::string boot_id;            // the host's boot id when it was attested
  std::uint32_t reset_count = 0;  // TPMS_CLOCK_INFO.resetCount of the quote
  std::int64_t issued_at = 0;     // unix seconds
  std::int64_t expires_at = 0;    // unix seconds
};

// Default lifetime: short, the host re-attests (cairn-attest.timer) well before it runs out.
inline constexpr std::chrono::seconds kTokenLifetime{600};

Expected<std::string> sign_token(const TokenClaims& claims, EVP_PKEY* key);

// Checks the signature with `public_key`, then that `now` < expires_at and the boot id matches.
// Errc::integrity for a bad signature or a malformed token, Errc::crypto for expired, Errc::
// invalid_input for another boot; the message says which.
Expected<TokenClaims> verify_token(std::string_view token, EVP_PKEY* public_key,
                                   std::string_view current_boot_id,
                                   std::chrono::system_clock::time_point now);

Expected<EvpPkeyPtr> generate_token_key();  // ECDSA P-256
Expected<EvpPkeyPtr> read_public_key_pem(const std::filesystem::path& path);
// The public half as PEM (SubjectPublicKeyInfo), as GET /v1/token-key serves it, and back.
Expected<std::string> public_key_pem(EVP_PKEY* key);
Expected<EvpPkeyPtr> parse_public_key_pem(std::string_view pem);

}  // namespace cairn::attest
