#include "soft_credential.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <cstring>
#include <memory>
#include <string_view>

namespace cairn::attest::testing {

namespace {

using Bytes = std::vector<std::uint8_t>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

void append(Bytes& out, std::span<const std::uint8_t> bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

void append_u32(Bytes& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<std::uint8_t>(value >> shift));
}

// A TPM2B at the front of `in`: its bytes, `in` advanced past it.
std::optional<std::span<const std::uint8_t>> take_sized(std::span<const std::uint8_t>& in) {
  if (in.size() < 2) return std::nullopt;
  std::size_t size = static_cast<std::size_t>(in[0] << 8 | in[1]);
  if (in.size() < 2 + size) return std::nullopt;
  auto out = in.subspan(2, size);
  in = in.subspan(2 + size);
  return out;
}

// The label with its terminating NUL, as the KDFs and OAEP take it (Part 1 §11.4.9.1).
std::span<const std::uint8_t> label(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size() + 1};
}

Bytes hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
  Bytes out(32);
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(),
       &length);
  out.resize(length);
  return out;
}

// KDFa with SHA-256 (Part 1 §11.4.10.2), for the sizes a credential needs.
Bytes kdfa(std::span<const std::uint8_t> seed, std::string_view name,
           std::span<const std::uint8_t> context_u, std::uint32_t bits) {
  Bytes out;
  for (std::uint32_t counter = 1; out.size() * 8 < bits; ++counter) {
    Bytes input;
    append_u32(input, counter);
    append(input, label(name));
    append(input, context_u);
    append_u32(input, bits);
    append(out, hmac_sha256(seed, input));
  }
  out.resize(bits / 8);
  return out;
}

// The seed: RSA-OAEP (SHA-256) with label "IDENTITY", as the TPM decrypts it with the EK.
std::optional<Bytes> decrypt_seed(EVP_PKEY* ek_key, std::span<const std::uint8_t> encrypted) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, ek_key, nullptr), &EVP_PKEY_CTX_free);
  auto oaep_label = label("IDENTITY");
  void* owned = OPENSSL_memdup(oaep_label.data(), oaep_label.size());
  if (!ctx || !owned || EVP_PKEY_decrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), owned, static_cast<int>(oaep_label.size())) !=
          1) {
    OPENSSL_free(owned);
    return std::nullopt;
  }
  Bytes seed(256);
  std::size_t length = seed.size();
  if (EVP_PKEY_decrypt(ctx.get(), seed.data(), &length, encrypted.data(), encrypted.size()) != 1) {
    return std::nullopt;
  }
  seed.resize(length);
  return seed;
}

Bytes aes_128_cfb_decrypt(std::span<const std::uint8_t> key, std::span<const std::uint8_t> in) {
  const std::uint8_t iv[16] = {};
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  Bytes out(in.size() + 16);
  int length = 0;
  int final_length = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_128_cfb128(), nullptr, key.data(), iv) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out.data(), &length, in.data(), static_cast<int>(in.size())) !=
          1 ||
      EVP_DecryptFinal_ex(ctx.get(), out.data() + length, &final_length) != 1) {
    return {};
  }
  out.resize(static_cast<std::size_t>(length + final_length));
  return out;
}

}  // namespace

std::optional<Bytes> activate_credential(EVP_PKEY* ek_key, std::span<const std::uint8_t> ak_name,
                                         std::span<const std::uint8_t> credential_blob,
                                         std::span<const std::uint8_t> encrypted_secret) {
  auto secret_in = encrypted_secret;
  auto blob_in = credential_blob;
  auto wrapped_seed = take_sized(secret_in);
  auto id_object = take_sized(blob_in);
  if (!wrapped_seed || !id_object || !secret_in.empty() || !blob_in.empty()) return std::nullopt;
  auto integrity = take_sized(*id_object);  // the rest of the ID object is encIdentity
  if (!integrity) return std::nullopt;
  auto enc_identity = *id_object;
  auto seed = decrypt_seed(ek_key, *wrapped_seed);
  if (!seed) return std::nullopt;

  Bytes mac_input(enc_identity.begin(), enc_identity.end());
  append(mac_input, ak_name);
  Bytes expected = hmac_sha256(kdfa(*seed, "INTEGRITY", {}, 256), mac_input);
  if (expected.size() != integrity->size() ||
      CRYPTO_memcmp(expected.data(), integrity->data(), expected.size()) != 0) {
    return std::nullopt;
  }
  Bytes plain = aes_128_cfb_decrypt(kdfa(*seed, "STORAGE", ak_name, 128), enc_identity);
  std::span<const std::uint8_t> plain_in = plain;
  auto secret = take_sized(plain_in);
  if (!secret || !plain_in.empty()) return std::nullopt;
  return Bytes(secret->begin(), secret->end());
}

}  // namespace cairn::attest::testing
