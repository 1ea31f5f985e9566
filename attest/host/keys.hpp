// The two keys attestation rests on. The EK (endorsement key) is the TPM's identity, certified by
// its manufacturer; it only decrypts, so the verifier uses it to make a credential only this TPM
// can open. The AK (attestation key) signs quotes; enrollment proves it lives in the EK's TPM.
#pragma once

#include <cstdint>
#include <optional>

#include "attest/host/tpm_context.hpp"

namespace cairn::attest::host {

inline constexpr TPM2_HANDLE kEkPersistentHandle = 0x81010001;  // TCG EK Credential Profile
inline constexpr TPM2_HANDLE kEkCertNvIndex = 0x01c00002;       // RSA 2048 EK certificate

// PolicySecret(TPM_RH_ENDORSEMENT) under SHA-256: the EK's authPolicy (EK Credential Profile,
// template L-1), so only someone holding the endorsement hierarchy's auth uses the EK.
inline constexpr std::uint8_t kEkPolicy[32] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa};

// The templates (exposed so tests can check them against the specification's values).
TPM2B_PUBLIC ek_template();
TPM2B_PUBLIC ak_template();

struct LoadedKey {
  EsysHandle handle;
  Bytes public_area;  // marshaled TPM2B_PUBLIC, as the verifier receives it
  Bytes name;         // TPM2B_NAME contents: nameAlg || H(TPMT_PUBLIC)
  bool persistent = false;
};

// The EK from kEkPersistentHandle when present (it must be an RSA restricted decrypt key), else
// created from ek_template() in the endorsement hierarchy; `persist` then stores it at
// kEkPersistentHandle (owner auth, empty).
Expected<LoadedKey> load_ek(const TpmContext& tpm, bool persist);

// The EK certificate (DER) from kEkCertNvIndex; nullopt when the index is not defined.
Expected<std::optional<Bytes>> read_ek_certificate(const TpmContext& tpm);

// The AK, re-derived from the owner hierarchy's seed (see keys.cpp for why).
Expected<LoadedKey> load_ak(const TpmContext& tpm);

}  // namespace cairn::attest::host
