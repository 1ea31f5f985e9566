#include "attest/host/enroll.hpp"

#include <tss2/tss2_mu.h>

namespace cairn::attest::host {

namespace {

// A policy session satisfying the EK's authPolicy: PolicySecret(TPM_RH_ENDORSEMENT) with the
// endorsement hierarchy's (empty) password.
Expected<EsysHandle> ek_policy_session(const TpmContext& tpm) {
  TPMT_SYM_DEF symmetric{.algorithm = TPM2_ALG_NULL};
  ESYS_TR session = ESYS_TR_NONE;
  TSS2_RC rc = Esys_StartAuthSession(tpm.esys(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                     ESYS_TR_NONE, ESYS_TR_NONE, nullptr, TPM2_SE_POLICY,
                                     &symmetric, TPM2_ALG_SHA256, &session);
  if (rc != TSS2_RC_SUCCESS) return fail_tpm("starting the EK policy session", rc);
  EsysHandle handle(tpm.esys(), session, EsysHandle::Kind::transient);

  TPM2B_TIMEOUT* raw_timeout = nullptr;
  TPMT_TK_AUTH* raw_ticket = nullptr;
  rc =
      Esys_PolicySecret(tpm.esys(), ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                        ESYS_TR_NONE, nullptr, nullptr, nullptr, 0, &raw_timeout, &raw_ticket);
  EsysPtr<TPM2B_TIMEOUT> timeout(raw_timeout);
  EsysPtr<TPMT_TK_AUTH> ticket(raw_ticket);
  if (rc != TSS2_RC_SUCCESS) return fail_tpm("PolicySecret(TPM_RH_ENDORSEMENT)", rc);
  return handle;
}

template <class T>
Expected<T> unmarshal(std::span<const std::uint8_t> bytes,
                      TSS2_RC (*function)(const std::uint8_t*, std::size_t, std::size_t*, T*),
                      std::string_view what) {
  T value{};
  std::size_t offset = 0;
  if (function(bytes.data(), bytes.size(), &offset, &value) != TSS2_RC_SUCCESS ||
      offset != bytes.size()) {
    return fail(Errc::invalid_input, "the verifier's " + std::string(what) + " is malformed");
  }
  return value;
}

}  // namespace

Expected<Bytes> activate_credential(const TpmContext& tpm, const LoadedKey& ek, const LoadedKey& ak,
                                    std::span<const std::uint8_t> credential_blob,
                                    std::span<const std::uint8_t> encrypted_secret) {
  auto blob = CAIRN_TRY(unmarshal<TPM2B_ID_OBJECT>(
      credential_blob, Tss2_MU_TPM2B_ID_OBJECT_Unmarshal, "credential blob"));
  auto secret = CAIRN_TRY(unmarshal<TPM2B_ENCRYPTED_SECRET>(
      encrypted_secret, Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal, "encrypted secret"));
  auto session = CAIRN_TRY(ek_policy_session(tpm));

  TPM2B_DIGEST* raw_released = nullptr;
  TSS2_RC rc =
      Esys_ActivateCredential(tpm.esys(), ak.handle.get(), ek.handle.get(), ESYS_TR_PASSWORD,
                              session.get(), ESYS_TR_NONE, &blob, &secret, &raw_released);
  EsysPtr<TPM2B_DIGEST> released(raw_released);
  if (rc != TSS2_RC_SUCCESS) {
    // The parameter errors the TPM gives for a credential made for another EK or AK name.
    TSS2_RC base = rc & ~static_cast<TSS2_RC>(TPM2_RC_N_MASK | TPM2_RC_P);
    if (base == TPM2_RC_INTEGRITY || base == TPM2_RC_VALUE || base == TPM2_RC_SIZE ||
        base == TPM2_RC_ECC_POINT) {
      auto error = fail_tpm("the TPM refused the credential (made for another EK or AK?)", rc);
      return fail(Errc::integrity, error.error().message());
    }
    return fail_tpm("ActivateCredential", rc);
  }
  return to_bytes(released->buffer, released->size);
}

}  // namespace cairn::attest::host
