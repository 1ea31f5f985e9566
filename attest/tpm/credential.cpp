// TPM2_MakeCredential in software: TPM 2.0 Part 1 §24 (Credential Protection), §11.4.9 (KDFa/KDFe),
// Annex B.10.3 (RSA-OAEP secret sharing) and C.6.1 (ECDH secret sharing); Part 3 §12.6.
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <tss2/tss2_tpm2_types.h>

#include <string_view>

#include "attest/tpm/digests.hpp"
#include "attest/tpm/structures.hpp"

namespace cairn::attest::tpm {

namespace {

using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, OpensslDeleter<EVP_CIPHER_CTX_free>>;

constexpr std::size_t kSymmetricKeyBytes = 16;  // the EK's AES-128 (TCG EK templates L-1, L-2)

std::span<const std::uint8_t> label_bytes(std::string_view label) {
  // The label's terminating NUL is part of the KDF input (Part 1 §11.4.9.1).
  return {reinterpret_cast<const std::uint8_t*>(label.data()), label.size() + 1};
}

Bytes hmac(const EVP_MD* md, std::span<const std::uint8_t> key,
           std::span<const std::uint8_t> data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int length = 0;
  if (HMAC(md, key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(),
           &length) == nullptr) {
    std::abort();  // only on allocation failure
  }
  out.resize(length);
  return out;
}

// KDFa (SP 800-108 counter mode with HMAC): HMAC(key, i || label || 0 || contextU || contextV ||
// bits) for i = 1, 2, ... until `bits` (a multiple of 8 here) are produced.
Bytes kdfa(const EVP_MD* md, std::span<const std::uint8_t> key, const char* label,
           std::span<const std::uint8_t> context_u, std::span<const std::uint8_t> context_v,
           std::uint32_t bits) {
  Bytes out;
  for (std::uint32_t counter = 1; out.size() * 8 < bits; ++counter) {
    Bytes input;
    put_u32(input, counter);
    put_bytes(input, label_bytes(label));
    put_bytes(input, context_u);
    put_bytes(input, context_v);
    put_u32(input, bits);
    put_bytes(out, hmac(md, key, input));
  }
  out.resize(bits / 8);
  return out;
}

// KDFe (SP 800-56A concatenation KDF): H(i || Z || label || 0 || partyU || partyV).
Bytes kdfe(const EVP_MD* md, std::span<const std::uint8_t> z, const char* label,
           std::span<const std::uint8_t> party_u, std::span<const std::uint8_t> party_v,
           std::uint32_t bits) {
  Bytes out;
  for (std::uint32_t counter = 1; out.size() * 8 < bits; ++counter) {
    Bytes count;
    put_u32(count, counter);
    put_bytes(out, digest(md, {count, z, label_bytes(label), party_u, party_v}));
  }
  out.resize(bits / 8);
  return out;
}

struct Seed {
  Bytes seed;
  Bytes encrypted_secret;  // the TPM2B_ENCRYPTED_SECRET's contents
};

// RSA EK: a random seed, RSA-OAEP encrypted with the EK's nameAlg and label "IDENTITY".
Expected<Seed> rsa_seed(const PublicKey& ek, const EVP_MD* md) {
  Seed out{.seed = Bytes(static_cast<std::size_t>(EVP_MD_get_size(md)))};
  if (RAND_bytes(out.seed.data(), static_cast<int>(out.seed.size())) != 1) {
    return fail_openssl(Errc::crypto, "MakeCredential: no random seed");
  }
  auto label = label_bytes("IDENTITY");
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, ek.key.get(), nullptr));
  void* owned_label = OPENSSL_memdup(label.data(), label.size());
  std::size_t length = 0;
  if (!ctx || !owned_label || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) != 1) {
    OPENSSL_free(owned_label);
    return fail_openssl(Errc::crypto, "MakeCredential: preparing RSA-OAEP");
  }
  if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), owned_label, static_cast<int>(label.size())) !=
      1) {
    OPENSSL_free(owned_label);
    return fail_openssl(Errc::crypto, "MakeCredential: setting the OAEP label");
  }
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &length, out.seed.data(), out.seed.size()) != 1) {
    return fail_openssl(Errc::crypto, "MakeCredential: RSA-OAEP");
  }
  out.encrypted_secret.resize(length);
  if (EVP_PKEY_encrypt(ctx.get(), out.encrypted_secret.data(), &length, out.seed.data(),
                       out.seed.size()) != 1) {
    return fail_openssl(Errc::crypto, "MakeCredential: RSA-OAEP");
  }
  out.encrypted_secret.resize(length);
  return out;
}

Expected<Bytes> coordinate(EVP_PKEY* key, const char* which) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, which, &raw) != 1) {
    return fail_openssl(Errc::crypto, "MakeCredential: reading an EC coordinate");
  }
  BignumPtr value(raw);
  Bytes out(32);
  if (BN_bn2binpad(value.get(), out.data(), 32) != 32) {
    return fail(Errc::crypto, "MakeCredential: EC coordinate is not P-256 sized");
  }
  return out;
}

// ECC EK: an ephemeral P-256 key; seed = KDFe(Z = x of ECDH, "IDENTITY", ephemeral.x, EK.x); the
// encrypted secret is the ephemeral public point (TPMS_ECC_POINT).
Expected<Seed> ecc_seed(const PublicKey& ek, const EVP_MD* md) {
  EvpPkeyPtr ephemeral(EVP_EC_gen("P-256"));
  EvpPkeyCtxPtr ctx(ephemeral ? EVP_PKEY_CTX_new_from_pkey(nullptr, ephemeral.get(), nullptr)
                              : nullptr);
  Bytes z(32);
  std::size_t length = z.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), ek.key.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), z.data(), &length) != 1 || length != z.size()) {
    return fail_openssl(Errc::crypto, "MakeCredential: ECDH with the EK");
  }
  Bytes ephemeral_x = CAIRN_TRY(coordinate(ephemeral.get(), OSSL_PKEY_PARAM_EC_PUB_X));
  Bytes ephemeral_y = CAIRN_TRY(coordinate(ephemeral.get(), OSSL_PKEY_PARAM_EC_PUB_Y));
  Bytes ek_x = CAIRN_TRY(coordinate(ek.key.get(), OSSL_PKEY_PARAM_EC_PUB_X));
  Seed out{.seed = kdfe(md, z, "IDENTITY", ephemeral_x, ek_x,
                        static_cast<std::uint32_t>(EVP_MD_get_size(md)) * 8)};
  put_sized(out.encrypted_secret, ephemeral_x);
  put_sized(out.encrypted_secret, ephemeral_y);
  return out;
}

Expected<Bytes> aes_128_cfb(std::span<const std::uint8_t> key, std::span<const std::uint8_t> in) {
  const std::uint8_t iv[16] = {};  // the seed is fresh for every credential, so a zero IV is safe
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  Bytes out(in.size() + 16);
  int length = 0;
  int final_length = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_cfb128(), nullptr, key.data(), iv) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data(), &length, in.data(), static_cast<int>(in.size())) !=
          1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + length, &final_length) != 1) {
    return fail_openssl(Errc::crypto, "MakeCredential: AES-128-CFB");
  }
  out.resize(static_cast<std::size_t>(length + final_length));
  return out;
}

}  // namespace

Expected<Credential> make_credential(const PublicKey& ek, std::span<const std::uint8_t> secret,
                                     std::span<const std::uint8_t> ak_name) {
  const EVP_MD* md = digest_algorithm(ek.name_alg);
  if (md == nullptr || !ek.key) {
    return fail(Errc::invalid_input, "MakeCredential: the EK's nameAlg is not supported");
  }
  auto digest_size = static_cast<std::size_t>(EVP_MD_get_size(md));
  if (secret.empty() || secret.size() > digest_size) {
    return fail(Errc::invalid_input, "MakeCredential: the secret must be 1 to " +
                                         std::to_string(digest_size) + " bytes, not " +
                                         std::to_string(secret.size()));
  }
  const EVP_MD* name_md =
      ak_name.size() >= 2
          ? digest_algorithm(static_cast<std::uint16_t>((ak_name[0] << 8) | ak_name[1]))
          : nullptr;
  if (name_md == nullptr ||
      ak_name.size() != 2 + static_cast<std::size_t>(EVP_MD_get_size(name_md))) {
    return fail(Errc::invalid_input, "MakeCredential: the AK name is not nameAlg || digest");
  }

  Seed seed;
  if (ek.type == TPM2_ALG_RSA) {
    seed = CAIRN_TRY(rsa_seed(ek, md));
  } else if (ek.type == TPM2_ALG_ECC) {
    seed = CAIRN_TRY(ecc_seed(ek, md));
  } else {
    return fail(Errc::invalid_input, "MakeCredential: the EK is neither RSA nor ECC");
  }

  // Part 1 §24.4: the secret, as a marshaled TPM2B_DIGEST, encrypted with a key bound to the AK's
  // name, then an HMAC over ciphertext and name so the TPM can tell a wrong name from a wrong key.
  Bytes sym_key = kdfa(md, seed.seed, "STORAGE", ak_name, {},
                       static_cast<std::uint32_t>(kSymmetricKeyBytes * 8));
  Bytes hmac_key =
      kdfa(md, seed.seed, "INTEGRITY", {}, {}, static_cast<std::uint32_t>(digest_size * 8));
  Bytes plain;
  put_sized(plain, secret);
  Bytes enc_identity = CAIRN_TRY(aes_128_cfb(sym_key, plain));
  Bytes mac_input = enc_identity;
  put_bytes(mac_input, ak_name);
  Bytes outer_hmac = hmac(md, hmac_key, mac_input);

  Bytes id_object;
  put_sized(id_object, outer_hmac);
  put_bytes(id_object, enc_identity);
  Credential credential;
  put_sized(credential.credential_blob, id_object);
  put_sized(credential.encrypted_secret, seed.encrypted_secret);
  return credential;
}

}  // namespace cairn::attest::tpm
