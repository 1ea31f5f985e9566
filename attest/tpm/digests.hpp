// TPM hash algorithm ids as OpenSSL digests, shared by the structure parser (names, signatures)
// and make_credential (KDFa/KDFe, HMAC).
#pragma once

#include <cstdint>
#include <span>

#include "attest/tpm/structures.hpp"
#include "common/openssl.hpp"

namespace cairn::attest::tpm {

// SHA-1, SHA-256, SHA-384, SHA-512; null for any other TPM_ALG_ID.
const EVP_MD* digest_for(std::uint16_t hash_alg);

// H(parts[0] || parts[1] || ...). `md` must be non-null.
Bytes digest(const EVP_MD* md, std::initializer_list<std::span<const std::uint8_t>> parts);

// Big-endian appends, as the TPM marshals.
void put_u16(Bytes& out, std::uint16_t value);
void put_u32(Bytes& out, std::uint32_t value);
void put_bytes(Bytes& out, std::span<const std::uint8_t> bytes);
// A TPM2B: 16-bit size, then the bytes.
void put_sized(Bytes& out, std::span<const std::uint8_t> bytes);

}  // namespace cairn::attest::tpm
