// Hashing and TPM marshalling helpers shared by the structure parser (names, signatures)
// and make_credential (KDFa/KDFe, HMAC).
#pragma once

#include <cstdint>
#include <span>

#include "attest/tpm/structures.hpp"
#include "common/eventlog.hpp"
#include "common/openssl.hpp"

namespace cairn::attest::tpm {

// TPM_ALG_ID → OpenSSL digest: common/eventlog.hpp's, shared with the event log replay.
using cairn::tpm::digest_algorithm;

// H(parts[0] || parts[1] || ...). `md` must be non-null.
Bytes digest(const EVP_MD* md, std::initializer_list<std::span<const std::uint8_t>> parts);

// Big-endian appends, as the TPM marshals.
void put_u16(Bytes& out, std::uint16_t value);
void put_u32(Bytes& out, std::uint32_t value);
void put_bytes(Bytes& out, std::span<const std::uint8_t> bytes);
// A TPM2B: 16-bit size, then the bytes.
void put_sized(Bytes& out, std::span<const std::uint8_t> bytes);

}  // namespace cairn::attest::tpm
