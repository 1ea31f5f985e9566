#include "attest/tpm/structures.hpp"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include <cstdlib>
#include <cstring>

#include "attest/tpm/digests.hpp"

namespace cairn::attest::tpm {

namespace {

// tss2-mu logs every malformed structure to stderr ("WARNING:marshal:..."), and the verifier
// unmarshals bytes from hosts it does not trust: library code stays quiet, so that module's log is
// off unless the operator set TSS2_LOG. At static initialisation, before any thread reads it.
[[maybe_unused]] const bool kQuietMarshalLog = [] {
  setenv("TSS2_LOG", "marshal+NONE", 0);
  return true;
}();

using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, OpensslDeleter<OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, OpensslDeleter<OSSL_PARAM_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OpensslDeleter<ECDSA_SIG_free>>;

// Runs a tss2-mu unmarshal over all of `bytes`: a short buffer, a size field beyond its buffer
// and any byte left over are all Errc::integrity.
template <class T, class Unmarshal>
Expected<T> unmarshal_all(std::span<const std::uint8_t> bytes, Unmarshal unmarshal,
                          const char* what) {
  T value{};
  std::size_t offset = 0;
  TSS2_RC rc = unmarshal(bytes.data(), bytes.size(), &offset, &value);
  if (rc != TSS2_RC_SUCCESS) {
    return fail(Errc::integrity, std::string(what) + ": malformed or truncated (" +
                                     std::to_string(bytes.size()) + " bytes)");
  }
  if (offset != bytes.size()) {
    return fail(Errc::integrity, std::string(what) + ": " + std::to_string(bytes.size() - offset) +
                                     " trailing bytes");
  }
  return value;
}

Bytes to_bytes(const std::uint8_t* data, std::size_t size) { return Bytes(data, data + size); }

std::vector<PcrSelection> selections(const TPML_PCR_SELECTION& list) {
  std::vector<PcrSelection> out;
  for (std::uint32_t i = 0; i < list.count; ++i) {
    const TPMS_PCR_SELECTION& selection = list.pcrSelections[i];
    PcrSelection bank{.hash = selection.hash};
    for (std::uint32_t byte = 0; byte < selection.sizeofSelect; ++byte) {
      for (std::uint32_t bit = 0; bit < 8; ++bit) {
        if (selection.pcrSelect[byte] & (1u << bit)) bank.pcrs.push_back(byte * 8 + bit);
      }
    }
    out.push_back(std::move(bank));
  }
  return out;
}

Expected<EvpPkeyPtr> from_params(const char* type, OSSL_PARAM_BLD* builder) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(builder));
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return fail_openssl(Errc::invalid_input,
                        std::string("TPM2B_PUBLIC: not a valid ") + type + " public key");
  }
  return EvpPkeyPtr(raw);
}

Expected<EvpPkeyPtr> rsa_key(const TPMT_PUBLIC& area) {
  const TPMS_RSA_PARMS& parms = area.parameters.rsaDetail;
  const TPM2B_PUBLIC_KEY_RSA& modulus = area.unique.rsa;
  if (parms.keyBits < 2048 || parms.keyBits > 4096 || modulus.size * 8u != parms.keyBits) {
    return fail(Errc::invalid_input, "TPM2B_PUBLIC: RSA modulus of " +
                                         std::to_string(modulus.size) + " bytes for " +
                                         std::to_string(parms.keyBits) + " key bits");
  }
  // exponent 0 is the TPM's spelling of the default 65537 (Part 2, TPMS_RSA_PARMS).
  std::uint32_t exponent = parms.exponent == 0 ? 65537 : parms.exponent;
  BignumPtr n(BN_bin2bn(modulus.buffer, modulus.size, nullptr));
  BignumPtr e(BN_new());
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!n || !e || !builder || BN_set_word(e.get(), exponent) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    return fail_openssl(Errc::internal, "building an RSA key");
  }
  return from_params("RSA", builder.get());
}

Expected<EvpPkeyPtr> ecc_key(const TPMT_PUBLIC& area) {
  if (area.parameters.eccDetail.curveID != TPM2_ECC_NIST_P256) {
    return fail(Errc::invalid_input, "TPM2B_PUBLIC: ECC curve " +
                                         std::to_string(area.parameters.eccDetail.curveID) +
                                         " is not NIST P-256");
  }
  const TPMS_ECC_POINT& point = area.unique.ecc;
  if (point.x.size == 0 || point.x.size > 32 || point.y.size == 0 || point.y.size > 32) {
    return fail(Errc::invalid_input, "TPM2B_PUBLIC: ECC point coordinates are not P-256 sized");
  }
  // Uncompressed SEC1 point; the TPM may drop leading zero bytes of a coordinate.
  std::uint8_t octets[65] = {0x04};
  std::memcpy(octets + 1 + 32 - point.x.size, point.x.buffer, point.x.size);
  std::memcpy(octets + 33 + 32 - point.y.size, point.y.buffer, point.y.size);
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!builder ||
      OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, octets,
                                       sizeof octets) != 1) {
    return fail_openssl(Errc::internal, "building an EC key");
  }
  auto key = CAIRN_TRY(from_params("EC", builder.get()));
  EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return fail_openssl(Errc::invalid_input, "TPM2B_PUBLIC: ECC point is not on P-256");
  }
  return key;
}

Status require(const PublicKey& key, std::uint32_t attribute, bool set, const char* what,
               const char* name) {
  if (((key.attributes & attribute) != 0) != set) {
    return fail(Errc::invalid_input,
                std::string(what) + ": " + name + " must be " + (set ? "set" : "clear"));
  }
  return {};
}

// The attributes an AK and an EK share: the key was made in this TPM and can never leave it.
Status require_resident(const PublicKey& key, const char* what) {
  CAIRN_CHECK(require(key, TPMA_OBJECT_FIXEDTPM, true, what, "fixedTPM"));
  CAIRN_CHECK(require(key, TPMA_OBJECT_FIXEDPARENT, true, what, "fixedParent"));
  CAIRN_CHECK(require(key, TPMA_OBJECT_SENSITIVEDATAORIGIN, true, what, "sensitiveDataOrigin"));
  return {};
}

Expected<Bytes> der_ecdsa(const TPMS_SIGNATURE_ECC& ecc) {
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(ecc.signatureR.buffer, ecc.signatureR.size, nullptr);
  BIGNUM* s = BN_bin2bn(ecc.signatureS.buffer, ecc.signatureS.size, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return fail_openssl(Errc::internal, "building an ECDSA signature");
  }
  int length = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (length <= 0) return fail_openssl(Errc::internal, "encoding an ECDSA signature");
  Bytes der(static_cast<std::size_t>(length));
  std::uint8_t* cursor = der.data();
  i2d_ECDSA_SIG(sig.get(), &cursor);
  return der;
}

}  // namespace

Expected<Quote> parse_quote(std::span<const std::uint8_t> attest) {
  auto parsed =
      CAIRN_TRY(unmarshal_all<TPMS_ATTEST>(attest, Tss2_MU_TPMS_ATTEST_Unmarshal, "TPMS_ATTEST"));
  Quote quote{
      .magic = parsed.magic,
      .type = parsed.type,
      .qualified_signer = to_bytes(parsed.qualifiedSigner.name, parsed.qualifiedSigner.size),
      .extra_data = to_bytes(parsed.extraData.buffer, parsed.extraData.size),
      .clock = {.clock = parsed.clockInfo.clock,
                .reset_count = parsed.clockInfo.resetCount,
                .restart_count = parsed.clockInfo.restartCount,
                .safe = parsed.clockInfo.safe != 0},
      .firmware_version = parsed.firmwareVersion};
  if (parsed.type == kStAttestQuote) {
    quote.selection = selections(parsed.attested.quote.pcrSelect);
    quote.pcr_digest =
        to_bytes(parsed.attested.quote.pcrDigest.buffer, parsed.attested.quote.pcrDigest.size);
  }
  return quote;
}

Expected<PublicKey> parse_public(std::span<const std::uint8_t> tpm2b_public) {
  // The name is the hash of the TPMT_PUBLIC exactly as sent, so the outer size must frame it.
  if (tpm2b_public.size() < 2 ||
      ((tpm2b_public[0] << 8) | tpm2b_public[1]) != static_cast<int>(tpm2b_public.size() - 2)) {
    return fail(Errc::integrity, "TPM2B_PUBLIC: size field does not match " +
                                     std::to_string(tpm2b_public.size()) + " bytes");
  }
  auto area = CAIRN_TRY(unmarshal_all<TPMT_PUBLIC>(tpm2b_public.subspan(2),
                                                   Tss2_MU_TPMT_PUBLIC_Unmarshal, "TPMT_PUBLIC"));
  const EVP_MD* name_md = digest_algorithm(area.nameAlg);
  if (name_md == nullptr) {
    return fail(Errc::invalid_input,
                "TPM2B_PUBLIC: unsupported nameAlg " + std::to_string(area.nameAlg));
  }
  PublicKey key{.attributes = area.objectAttributes,
                .type = area.type,
                .name_alg = area.nameAlg,
                .marshaled = Bytes(tpm2b_public.begin(), tpm2b_public.end())};
  key.name.reserve(2 + static_cast<std::size_t>(EVP_MD_get_size(name_md)));
  put_u16(key.name, area.nameAlg);
  put_bytes(key.name, digest(name_md, {tpm2b_public.subspan(2)}));
  if (area.type == TPM2_ALG_RSA) {
    key.scheme = area.parameters.rsaDetail.scheme.scheme;
    key.scheme_hash = key.scheme == TPM2_ALG_NULL
                          ? TPM2_ALG_NULL
                          : area.parameters.rsaDetail.scheme.details.anySig.hashAlg;
    key.key = CAIRN_TRY(rsa_key(area));
  } else if (area.type == TPM2_ALG_ECC) {
    key.scheme = area.parameters.eccDetail.scheme.scheme;
    key.scheme_hash = key.scheme == TPM2_ALG_NULL
                          ? TPM2_ALG_NULL
                          : area.parameters.eccDetail.scheme.details.anySig.hashAlg;
    key.key = CAIRN_TRY(ecc_key(area));
  } else {
    return fail(Errc::invalid_input,
                "TPM2B_PUBLIC: key type " + std::to_string(area.type) + " is neither RSA nor ECC");
  }
  return key;
}

Expected<PublicKey> parse_attestation_key(std::span<const std::uint8_t> tpm2b_public) {
  auto key = CAIRN_TRY(parse_public(tpm2b_public));
  const char* what = "attestation key";
  CAIRN_CHECK(require(key, TPMA_OBJECT_RESTRICTED, true, what, "restricted"));
  CAIRN_CHECK(require(key, TPMA_OBJECT_SIGN_ENCRYPT, true, what, "sign"));
  CAIRN_CHECK(require(key, TPMA_OBJECT_DECRYPT, false, what, "decrypt"));
  CAIRN_CHECK(require_resident(key, what));
  bool scheme_ok = key.type == TPM2_ALG_RSA
                       ? key.scheme == TPM2_ALG_RSASSA || key.scheme == TPM2_ALG_RSAPSS
                       : key.scheme == TPM2_ALG_ECDSA;
  if (!scheme_ok || key.scheme_hash != TPM2_ALG_SHA256) {
    return fail(Errc::invalid_input, "attestation key: scheme " + std::to_string(key.scheme) +
                                         " with hash " + std::to_string(key.scheme_hash) +
                                         " is not RSASSA/RSAPSS/ECDSA with SHA-256");
  }
  return key;
}

Expected<PublicKey> parse_endorsement_key(std::span<const std::uint8_t> tpm2b_public) {
  auto key = CAIRN_TRY(parse_public(tpm2b_public));
  const char* what = "endorsement key";
  CAIRN_CHECK(require(key, TPMA_OBJECT_RESTRICTED, true, what, "restricted"));
  CAIRN_CHECK(require(key, TPMA_OBJECT_DECRYPT, true, what, "decrypt"));
  CAIRN_CHECK(require(key, TPMA_OBJECT_SIGN_ENCRYPT, false, what, "sign"));
  CAIRN_CHECK(require_resident(key, what));
  // Parsed again for the storage parameters parse_public does not keep; it parsed once already.
  auto area = *unmarshal_all<TPMT_PUBLIC>(tpm2b_public.subspan(2), Tss2_MU_TPMT_PUBLIC_Unmarshal,
                                          "TPMT_PUBLIC");
  const TPMT_SYM_DEF_OBJECT& symmetric = key.type == TPM2_ALG_RSA
                                             ? area.parameters.rsaDetail.symmetric
                                             : area.parameters.eccDetail.symmetric;
  if (symmetric.algorithm != TPM2_ALG_AES || symmetric.keyBits.aes != 128 ||
      symmetric.mode.aes != TPM2_ALG_CFB) {
    return fail(Errc::invalid_input, "endorsement key: symmetric algorithm is not AES-128-CFB");
  }
  if (key.type == TPM2_ALG_RSA && area.parameters.rsaDetail.keyBits != 2048) {
    return fail(Errc::invalid_input, "endorsement key: RSA key is not 2048 bits");
  }
  if (key.scheme != TPM2_ALG_NULL) {
    return fail(Errc::invalid_input, "endorsement key: a storage key has no signing scheme");
  }
  if (key.type == TPM2_ALG_ECC && area.parameters.eccDetail.kdf.scheme != TPM2_ALG_NULL) {
    return fail(Errc::invalid_input, "endorsement key: ECC kdf must be NULL");
  }
  if (digest_algorithm(key.name_alg) == nullptr || key.name_alg == TPM2_ALG_SHA1) {
    return fail(Errc::invalid_input, "endorsement key: nameAlg must be SHA-256 or stronger");
  }
  return key;
}

Status verify_signature(const PublicKey& ak, std::span<const std::uint8_t> signed_data,
                        std::span<const std::uint8_t> tpmt_signature) {
  auto signature = CAIRN_TRY(unmarshal_all<TPMT_SIGNATURE>(
      tpmt_signature, Tss2_MU_TPMT_SIGNATURE_Unmarshal, "TPMT_SIGNATURE"));
  if (signature.sigAlg != ak.scheme) {
    return fail(Errc::integrity, "signature scheme " + std::to_string(signature.sigAlg) +
                                     " is not the AK's (" + std::to_string(ak.scheme) + ")");
  }
  Bytes der;
  std::span<const std::uint8_t> bytes;
  std::uint16_t hash = 0;
  if (signature.sigAlg == TPM2_ALG_RSASSA || signature.sigAlg == TPM2_ALG_RSAPSS) {
    // rsassa and rsapss share one layout (TPMS_SIGNATURE_RSA).
    hash = signature.signature.rsassa.hash;
    bytes = {signature.signature.rsassa.sig.buffer, signature.signature.rsassa.sig.size};
  } else if (signature.sigAlg == TPM2_ALG_ECDSA) {
    hash = signature.signature.ecdsa.hash;
    der = CAIRN_TRY(der_ecdsa(signature.signature.ecdsa));
    bytes = der;
  } else {
    return fail(Errc::integrity,
                "signature scheme " + std::to_string(signature.sigAlg) + " is not supported");
  }
  const EVP_MD* md = digest_algorithm(hash);
  if (hash != ak.scheme_hash || md == nullptr) {
    return fail(Errc::integrity, "signature hash " + std::to_string(hash) + " is not the AK's (" +
                                     std::to_string(ak.scheme_hash) + ")");
  }
  Bytes message_digest = digest(md, {signed_data});
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, ak.key.get(), nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), md) != 1) {
    return fail_openssl(Errc::internal, "preparing signature verification");
  }
  if (signature.sigAlg != TPM2_ALG_ECDSA) {
    int padding = signature.sigAlg == TPM2_ALG_RSAPSS ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING;
    if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), padding) != 1 ||
        (padding == RSA_PKCS1_PSS_PADDING &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), RSA_PSS_SALTLEN_AUTO) != 1)) {
      return fail_openssl(Errc::internal, "preparing RSA signature verification");
    }
  }
  int verified = EVP_PKEY_verify(ctx.get(), bytes.data(), bytes.size(), message_digest.data(),
                                 message_digest.size());
  ERR_clear_error();  // a bad signature leaves padding errors behind; the result says it all
  if (verified != 1) return fail(Errc::integrity, "the AK signature does not verify");
  return {};
}

Bytes pcr_digest(const std::map<std::uint32_t, Bytes>& values, const PcrSelection& selection) {
  Bytes concatenated;
  for (std::uint32_t pcr : selection.pcrs) {
    auto it = values.find(pcr);
    if (it == values.end() || it->second.size() != 32) return {};
    put_bytes(concatenated, it->second);
  }
  return digest(EVP_sha256(), {concatenated});
}

}  // namespace cairn::attest::tpm
