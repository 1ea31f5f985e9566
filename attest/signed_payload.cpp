#include "attest/signed_payload.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>

#include "attest/protocol.hpp"

namespace cairn::attest {

namespace {

std::string base64url_encode(std::string_view bytes) {
  std::string text = base64_encode(bytes);
  while (!text.empty() && text.back() == '=') text.pop_back();
  std::replace(text.begin(), text.end(), '+', '-');
  std::replace(text.begin(), text.end(), '/', '_');
  return text;
}

Expected<std::string> base64url_decode(std::string_view text, std::string_view what) {
  auto malformed = [&] {
    return fail(Errc::integrity, std::string(what) + ": malformed base64url");
  };
  if (text.size() % 4 == 1) return malformed();
  std::string standard(text);
  for (char& c : standard) {
    if (c == '-') {
      c = '+';
    } else if (c == '_') {
      c = '/';
    } else if (c == '+' || c == '/' || c == '=') {
      return malformed();
    }
  }
  standard.append((4 - standard.size() % 4) % 4, '=');
  auto bytes = base64_decode(standard);
  if (!bytes) return malformed();
  return bytes;
}

Status check_key(EVP_PKEY* key, std::string_view what) {
  if (is_p256(key)) return {};
  return fail(Errc::crypto, std::string(what) + " key: not an ECDSA P-256 key");
}

}  // namespace

bool is_p256(EVP_PKEY* key) {
  char group[32] = {};
  return key != nullptr && EVP_PKEY_is_a(key, "EC") &&
         EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                        nullptr) == 1 &&
         std::string_view(group) == "prime256v1";
}

Expected<std::string> sign_payload(std::string_view payload, EVP_PKEY* key, std::string_view what) {
  CAIRN_CHECK(check_key(key, what));
  std::string signed_part = base64url_encode(payload);
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t length = 0;
  auto sign = [&](unsigned char* out) {
    return EVP_DigestSign(ctx.get(), out, &length,
                          reinterpret_cast<const unsigned char*>(signed_part.data()),
                          signed_part.size()) == 1;
  };
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      !sign(nullptr)) {
    return fail_openssl(Errc::crypto, "signing the " + std::string(what));
  }
  std::string signature(length, '\0');
  if (!sign(reinterpret_cast<unsigned char*>(signature.data()))) {
    return fail_openssl(Errc::crypto, "signing the " + std::string(what));
  }
  signature.resize(length);
  return signed_part + "." + base64url_encode(signature);
}

Expected<std::string> open_signed_payload(std::string_view text, EVP_PKEY* public_key,
                                          std::string_view what) {
  CAIRN_CHECK(check_key(public_key, what));
  auto dot = text.find('.');
  if (dot == std::string_view::npos || text.find('.', dot + 1) != std::string_view::npos) {
    return fail(Errc::integrity, std::string(what) + ": not <payload>.<signature>");
  }
  std::string_view signed_part = text.substr(0, dot);
  std::string payload = CAIRN_TRY(base64url_decode(signed_part, what));
  std::string signature = CAIRN_TRY(base64url_decode(text.substr(dot + 1), what));
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, public_key) != 1) {
    return fail_openssl(Errc::crypto, "verifying the " + std::string(what));
  }
  int verified = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
      reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size());
  ERR_clear_error();  // a malformed DER signature leaves decoder errors behind
  if (verified != 1) {
    return fail(Errc::integrity, std::string(what) + ": signature does not verify");
  }
  return payload;
}

}  // namespace cairn::attest
