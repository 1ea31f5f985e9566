// What a host accepts from the verifier offline: admission tokens (verify_token) and revocation
// lists (verify_revocation_list), both "<base64url payload>.<base64url signature>".
//   first byte even: the rest is the whole signed text, checked against the fuzz key;
//   first byte odd: the rest is a payload, signed here with the fuzz key, so that the fuzzer
//   reaches the claims parsers behind the signature check.
#include <chrono>
#include <cstdint>

#include "attest/revocations.hpp"
#include "attest/signed_payload.hpp"
#include "attest/token.hpp"
#include "common/pki.hpp"
#include "fuzz_input.hpp"

namespace {

constexpr std::string_view kBootId = "0f6e2b4c-8a1d-4e55-9a3b-2c7d1e9f4a60";
// 2024-01-01T00:00:00Z: the seeds expire later.
constexpr std::chrono::system_clock::time_point kNow{std::chrono::seconds{1704067200}};

// A throwaway P-256 key that signs nothing but fuzz inputs (tests/fuzz/keys/README).
EVP_PKEY* fuzz_key() {
  static cairn::EvpPkeyPtr key = [] {
    auto read = cairn::read_private_key_pem(CAIRN_FUZZ_KEYS_DIR "/token.key");
    if (!read) __builtin_trap();
    return std::move(*read);
  }();
  return key.get();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cairn::fuzz::Input input{{data, size}};
  bool sign_here = input.take_selector() & 1;
  std::string text(input.text());
  if (sign_here) {
    auto as_token = cairn::attest::sign_payload(text, fuzz_key(), "token");
    if (!as_token) __builtin_trap();
    auto claims = cairn::attest::verify_token(*as_token, fuzz_key(), kBootId, kNow);
    // What verifies re-signs to a token that verifies to the same claims.
    if (claims) {
      auto again = cairn::attest::sign_token(*claims, fuzz_key());
      if (!again) __builtin_trap();
      auto reread = cairn::attest::verify_token(*again, fuzz_key(), kBootId, kNow);
      if (!reread || reread->host != claims->host || reread->image != claims->image ||
          reread->expires_at != claims->expires_at) {
        __builtin_trap();
      }
    }
    text = *as_token;
  }
  cairn::attest::verify_token(text, fuzz_key(), kBootId, kNow);
  if (auto list = cairn::attest::verify_revocation_list(text, fuzz_key(), kNow)) {
    for (const auto& image : list->revoked) {
      if (!list->revokes(image)) __builtin_trap();
    }
  }
  return 0;
}
