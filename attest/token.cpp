#include "attest/token.hpp"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <nlohmann/json.hpp>

#include "attest/protocol.hpp"
#include "attest/signed_payload.hpp"
#include "common/fs.hpp"
#include "common/strict_json.hpp"

namespace cairn::attest {

namespace {

using nlohmann::json;

const char* const kClaimKeys[] = {"host",        "image",     "boot_id",
                                  "reset_count", "issued_at", "expires_at"};

std::string claims_json(const TokenClaims& claims) {
  return json{{"host", claims.host},           {"image", claims.image},
              {"boot_id", claims.boot_id},     {"reset_count", claims.reset_count},
              {"issued_at", claims.issued_at}, {"expires_at", claims.expires_at}}
      .dump();
}

// The payload was signed by the verifier, so a shape error here means a verifier bug or a forged
// key; it is still checked rather than trusted.
Expected<TokenClaims> parse_claims(std::string_view text) {
  auto parsed = parse_strict_json(text, "token");
  if (!parsed) return fail(Errc::integrity, "token: payload is not the claims object");
  json root = std::move(*parsed);
  if (!root.is_object() || root.size() != std::size(kClaimKeys)) {
    return fail(Errc::integrity, "token: payload is not the claims object");
  }
  for (const char* key : kClaimKeys) {
    if (!root.contains(key))
      return fail(Errc::integrity, std::string("token: missing '") + key + "'");
  }
  const json& reset = root["reset_count"];
  if (!root["host"].is_string() || !root["image"].is_string() || !root["boot_id"].is_string() ||
      !reset.is_number_unsigned() ||
      reset.get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max() ||
      !root["issued_at"].is_number_integer() || !root["expires_at"].is_number_integer()) {
    return fail(Errc::integrity, "token: a claim has the wrong type");
  }
  return TokenClaims{.host = root["host"].get<std::string>(),
                     .image = root["image"].get<std::string>(),
                     .boot_id = root["boot_id"].get<std::string>(),
                     .reset_count = reset.get<std::uint32_t>(),
                     .issued_at = root["issued_at"].get<std::int64_t>(),
                     .expires_at = root["expires_at"].get<std::int64_t>()};
}

}  // namespace

Expected<std::string> sign_token(const TokenClaims& claims, EVP_PKEY* key) {
  return sign_payload(claims_json(claims), key, "token");
}

Expected<TokenClaims> verify_token(std::string_view token, EVP_PKEY* public_key,
                                   std::string_view current_boot_id,
                                   std::chrono::system_clock::time_point now) {
  std::string payload = CAIRN_TRY(open_signed_payload(token, public_key, "token"));
  TokenClaims claims = CAIRN_TRY(parse_claims(payload));
  auto now_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (now_seconds >= claims.expires_at) {
    return fail(Errc::crypto, "token: expired at " + std::to_string(claims.expires_at) + " (now " +
                                  std::to_string(now_seconds) + ")");
  }
  if (claims.boot_id != current_boot_id) {
    return fail(Errc::invalid_input, "token: issued for boot " + claims.boot_id +
                                         ", this is boot " + std::string(current_boot_id));
  }
  return claims;
}

Expected<EvpPkeyPtr> generate_token_key() {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return fail_openssl(Errc::crypto, "generating the token key");
  return key;
}

Expected<EvpPkeyPtr> parse_public_key_pem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EvpPkeyPtr key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return fail_openssl(Errc::crypto, "no PEM public key");
  if (!is_p256(key.get())) return fail(Errc::crypto, "public key: not an ECDSA P-256 key");
  return key;
}

Expected<EvpPkeyPtr> read_public_key_pem(const std::filesystem::path& path) {
  std::string pem = CAIRN_TRY(read_file(path));
  return with_context(parse_public_key_pem(pem), "reading " + path.string());
}

Expected<std::string> public_key_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    return fail_openssl(Errc::crypto, "writing the public key as PEM");
  }
  char* data = nullptr;
  long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

}  // namespace cairn::attest
