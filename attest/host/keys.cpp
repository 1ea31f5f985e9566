#include "attest/host/keys.hpp"

#include <tss2/tss2_mu.h>

#include <algorithm>
#include <cstring>

namespace cairn::attest::host {

namespace {

// Distinguishes our AK from any other primary key someone derives from the owner seed with the
// same template (the unique field is an input to primary key derivation).
constexpr std::string_view kAkUnique = "cairn attestation key";

Expected<LoadedKey> describe(const TpmContext& tpm, EsysHandle handle, bool persistent,
                             std::string_view what) {
  TPM2B_PUBLIC* raw_public = nullptr;
  TPM2B_NAME* raw_name = nullptr;
  TPM2B_NAME* raw_qualified = nullptr;
  TSS2_RC rc = Esys_ReadPublic(tpm.esys(), handle.get(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                               &raw_public, &raw_name, &raw_qualified);
  EsysPtr<TPM2B_PUBLIC> public_area(raw_public);
  EsysPtr<TPM2B_NAME> name(raw_name);
  EsysPtr<TPM2B_NAME> qualified(raw_qualified);
  if (rc != TSS2_RC_SUCCESS)
    return fail_tpm("reading the public area of the " + std::string(what), rc);

  Bytes marshaled(sizeof(TPM2B_PUBLIC));
  std::size_t offset = 0;
  rc = Tss2_MU_TPM2B_PUBLIC_Marshal(public_area.get(), marshaled.data(), marshaled.size(), &offset);
  if (rc != TSS2_RC_SUCCESS) return fail_tpm("marshaling the " + std::string(what), rc);
  marshaled.resize(offset);
  return LoadedKey{.handle = std::move(handle),
                   .public_area = std::move(marshaled),
                   .name = to_bytes(name->name, name->size),
                   .persistent = persistent};
}

bool is_rsa_endorsement_key(const TPMT_PUBLIC& key) {
  constexpr TPMA_OBJECT kRequired =
      TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  return key.type == TPM2_ALG_RSA && (key.objectAttributes & kRequired) == kRequired &&
         (key.objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT) == 0;
}

Expected<EsysHandle> create_primary(const TpmContext& tpm, ESYS_TR hierarchy,
                                    const TPM2B_PUBLIC& templ, std::string_view what) {
  TPM2B_SENSITIVE_CREATE sensitive{};
  TPM2B_DATA outside_info{};
  TPML_PCR_SELECTION creation_pcrs{};
  ESYS_TR handle = ESYS_TR_NONE;
  TPM2B_PUBLIC* out_public = nullptr;
  TPM2B_CREATION_DATA* creation_data = nullptr;
  TPM2B_DIGEST* creation_hash = nullptr;
  TPMT_TK_CREATION* creation_ticket = nullptr;
  TSS2_RC rc =
      Esys_CreatePrimary(tpm.esys(), hierarchy, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                         &sensitive, &templ, &outside_info, &creation_pcrs, &handle, &out_public,
                         &creation_data, &creation_hash, &creation_ticket);
  EsysPtr<TPM2B_PUBLIC> free_public(out_public);
  EsysPtr<TPM2B_CREATION_DATA> free_data(creation_data);
  EsysPtr<TPM2B_DIGEST> free_hash(creation_hash);
  EsysPtr<TPMT_TK_CREATION> free_ticket(creation_ticket);
  if (rc != TSS2_RC_SUCCESS) return fail_tpm("creating the " + std::string(what), rc);
  return EsysHandle(tpm.esys(), handle, EsysHandle::Kind::transient);
}

}  // namespace

TPM2B_PUBLIC ek_template() {
  TPM2B_PUBLIC templ{};
  TPMT_PUBLIC& area = templ.publicArea;
  area.type = TPM2_ALG_RSA;
  area.nameAlg = TPM2_ALG_SHA256;
  area.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                          TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  area.authPolicy.size = sizeof kEkPolicy;
  std::memcpy(area.authPolicy.buffer, kEkPolicy, sizeof kEkPolicy);
  area.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
  area.parameters.rsaDetail.symmetric.keyBits.aes = 128;
  area.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
  area.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
  area.parameters.rsaDetail.keyBits = 2048;
  area.parameters.rsaDetail.exponent = 0;
  area.unique.rsa.size = 256;  // 256 zero bytes (template L-1)
  return templ;
}

TPM2B_PUBLIC ak_template() {
  TPM2B_PUBLIC templ{};
  TPMT_PUBLIC& area = templ.publicArea;
  area.type = TPM2_ALG_RSA;
  area.nameAlg = TPM2_ALG_SHA256;
  area.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                          TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
  area.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
  area.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
  area.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
  area.parameters.rsaDetail.keyBits = 2048;
  area.parameters.rsaDetail.exponent = 0;
  area.unique.rsa.size = static_cast<UINT16>(kAkUnique.size());
  std::memcpy(area.unique.rsa.buffer, kAkUnique.data(), kAkUnique.size());
  return templ;
}

Expected<LoadedKey> load_ek(const TpmContext& tpm, bool persist) {
  ESYS_TR persistent = ESYS_TR_NONE;
  if (Esys_TR_FromTPMPublic(tpm.esys(), kEkPersistentHandle, ESYS_TR_NONE, ESYS_TR_NONE,
                            ESYS_TR_NONE, &persistent) == TSS2_RC_SUCCESS) {
    auto key = CAIRN_TRY(describe(
        tpm, EsysHandle(tpm.esys(), persistent, EsysHandle::Kind::persistent), true, "EK"));
    TPM2B_PUBLIC parsed{};
    std::size_t offset = 0;
    if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(key.public_area.data(), key.public_area.size(), &offset,
                                       &parsed) != TSS2_RC_SUCCESS ||
        !is_rsa_endorsement_key(parsed.publicArea)) {
      return fail(Errc::invalid_input,
                  "the persistent key at 0x81010001 is not an RSA endorsement key");
    }
    return key;
  }
  auto created = CAIRN_TRY(create_primary(tpm, ESYS_TR_RH_ENDORSEMENT, ek_template(), "EK"));
  if (!persist) return describe(tpm, std::move(created), false, "EK");

  ESYS_TR stored = ESYS_TR_NONE;
  TSS2_RC rc = Esys_EvictControl(tpm.esys(), ESYS_TR_RH_OWNER, created.get(), ESYS_TR_PASSWORD,
                                 ESYS_TR_NONE, ESYS_TR_NONE, kEkPersistentHandle, &stored);
  if (rc != TSS2_RC_SUCCESS) return fail_tpm("persisting the EK at 0x81010001", rc);
  // The persistent copy is what we use from now on; the transient one is flushed.
  created.reset();
  return describe(tpm, EsysHandle(tpm.esys(), stored, EsysHandle::Kind::persistent), true, "EK");
}

Expected<std::optional<Bytes>> read_ek_certificate(const TpmContext& tpm) {
  ESYS_TR index = ESYS_TR_NONE;
  if (Esys_TR_FromTPMPublic(tpm.esys(), kEkCertNvIndex, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                            &index) != TSS2_RC_SUCCESS) {
    return std::optional<Bytes>();
  }
  EsysHandle handle(tpm.esys(), index, EsysHandle::Kind::persistent);
  TPM2B_NV_PUBLIC* raw_public = nullptr;
  TPM2B_NAME* raw_name = nullptr;
  TSS2_RC rc = Esys_NV_ReadPublic(tpm.esys(), index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                  &raw_public, &raw_name);
  EsysPtr<TPM2B_NV_PUBLIC> nv_public(raw_public);
  EsysPtr<TPM2B_NAME> nv_name(raw_name);
  if (rc != TSS2_RC_SUCCESS) return fail_tpm("reading the EK certificate index 0x01c00002", rc);

  // NV reads are bounded by the TPM's NV buffer (1024 on most TPMs); 512 is safe everywhere.
  constexpr std::uint16_t kChunk = 512;
  const std::uint16_t size = nv_public->nvPublic.dataSize;
  Bytes certificate;
  certificate.reserve(size);
  for (std::uint16_t offset = 0; offset < size;) {
    auto chunk = static_cast<std::uint16_t>(std::min<int>(kChunk, size - offset));
    TPM2B_MAX_NV_BUFFER* raw_data = nullptr;
    rc = Esys_NV_Read(tpm.esys(), index, index, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, chunk,
                      offset, &raw_data);
    EsysPtr<TPM2B_MAX_NV_BUFFER> data(raw_data);
    if (rc != TSS2_RC_SUCCESS) return fail_tpm("reading the EK certificate from NV", rc);
    certificate.insert(certificate.end(), data->buffer, data->buffer + data->size);
    offset = static_cast<std::uint16_t>(offset + chunk);
  }
  // Manufacturers pad the index; the DER SEQUENCE header says how long the certificate is.
  if (certificate.size() >= 4 && certificate[0] == 0x30 && certificate[1] == 0x82) {
    std::size_t length = 4 + (std::size_t{certificate[2]} << 8 | certificate[3]);
    if (length <= certificate.size()) certificate.resize(length);
  }
  return std::optional<Bytes>(std::move(certificate));
}

// The AK is a primary key of the owner hierarchy rather than a child of the EK: a primary is
// derived from the hierarchy seed and its template, so every boot recreates the same key with
// no stored (wrapped) key blob to keep on a read-only root, and using it needs no policy
// session. It changes only when the TPM is cleared (new owner seed), which also invalidates
// the enrollment, as it should. The cost is an RSA key generation per run (a few seconds on
// some hardware TPMs), acceptable for a timer that runs every few minutes.
Expected<LoadedKey> load_ak(const TpmContext& tpm) {
  auto handle = CAIRN_TRY(create_primary(tpm, ESYS_TR_RH_OWNER, ak_template(), "AK"));
  return describe(tpm, std::move(handle), false, "AK");
}

}  // namespace cairn::attest::host
