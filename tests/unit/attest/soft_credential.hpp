// TPM2_ActivateCredential in software, for a SoftTpm's RSA EK: what lets a program enroll soft
// TPMs with a cairn-verifier in another process (bench/verify-http), where the verifier's random
// seam cannot be read. Written from TPM 2.0 Part 1 §24 apart from attest/tpm/credential.cpp, so
// the two check each other (soft_credential_test.cpp).
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace cairn::attest::testing {

// The secret a credential protects, given the EK's private key and the name of the AK loaded
// beside it; std::nullopt when the credential was made for another EK or AK name (the TPM's
// integrity check fails) or is malformed. Both inputs marshaled: TPM2B_ID_OBJECT and
// TPM2B_ENCRYPTED_SECRET, as EnrollChallenge carries them (base64-decoded).
std::optional<std::vector<std::uint8_t>> activate_credential(
    EVP_PKEY* ek_key, std::span<const std::uint8_t> ak_name,
    std::span<const std::uint8_t> credential_blob, std::span<const std::uint8_t> encrypted_secret);

}  // namespace cairn::attest::testing
