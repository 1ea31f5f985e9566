#include "attest/host/attestation_tpm.hpp"

#include "attest/host/enroll.hpp"

namespace cairn::attest::host {

Expected<std::unique_ptr<EsysAttestationTpm>> EsysAttestationTpm::open(std::string_view tcti,
                                                                       bool persist_ek) {
  auto context = CAIRN_TRY(TpmContext::open(tcti));
  return std::unique_ptr<EsysAttestationTpm>(
      new EsysAttestationTpm(std::move(context), persist_ek));
}

Expected<const LoadedKey*> EsysAttestationTpm::ek() {
  if (!ek_) ek_ = CAIRN_TRY(with_context(load_ek(tpm_, persist_ek_), "on " + tpm_.tcti_name()));
  return &*ek_;
}

Expected<const LoadedKey*> EsysAttestationTpm::ak() {
  if (!ak_) ak_ = CAIRN_TRY(with_context(load_ak(tpm_), "on " + tpm_.tcti_name()));
  return &*ak_;
}

Expected<TpmIdentity> EsysAttestationTpm::identity() {
  const LoadedKey* endorsement = CAIRN_TRY(ek());
  const LoadedKey* attestation = CAIRN_TRY(ak());
  return TpmIdentity{.ek_public = endorsement->public_area,
                     .ek_certificate = CAIRN_TRY(read_ek_certificate(tpm_)),
                     .ak_public = attestation->public_area,
                     .ak_name = attestation->name,
                     .ek_persistent = endorsement->persistent};
}

Expected<Bytes> EsysAttestationTpm::activate(std::span<const std::uint8_t> credential_blob,
                                             std::span<const std::uint8_t> encrypted_secret) {
  const LoadedKey* endorsement = CAIRN_TRY(ek());
  const LoadedKey* attestation = CAIRN_TRY(ak());
  return with_context(
      activate_credential(tpm_, *endorsement, *attestation, credential_blob, encrypted_secret),
      "on " + tpm_.tcti_name());
}

Expected<QuoteResult> EsysAttestationTpm::quote(std::span<const std::uint8_t> nonce,
                                                std::span<const std::uint32_t> pcrs) {
  const LoadedKey* attestation = CAIRN_TRY(ak());
  return with_context(host::quote(tpm_, *attestation, nonce, pcrs), "on " + tpm_.tcti_name());
}

}  // namespace cairn::attest::host
