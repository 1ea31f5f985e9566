// Credential activation: the TPM half of enrollment. The verifier made a credential with
// TPM2_MakeCredential(EK public, secret, AK name); only the TPM holding that EK's private key,
// with an object of that name loaded, releases the secret, which proves the AK is a key of it.
#pragma once

#include <span>

#include "attest/host/keys.hpp"

namespace cairn::attest::host {

// `credential_blob` is a marshaled TPM2B_ID_OBJECT, `encrypted_secret` a marshaled
// TPM2B_ENCRYPTED_SECRET, both as the verifier sent them. Returns the released secret.
// Errc::invalid_input when the inputs do not unmarshal; Errc::integrity when the TPM refuses
// the credential (made for another EK or another AK name).
Expected<Bytes> activate_credential(const TpmContext& tpm, const LoadedKey& ek, const LoadedKey& ak,
                                    std::span<const std::uint8_t> credential_blob,
                                    std::span<const std::uint8_t> encrypted_secret);

}  // namespace cairn::attest::host
