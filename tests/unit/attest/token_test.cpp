#include "attest/token.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "attest/protocol.hpp"
#include "common/pki.hpp"

using namespace cairn;
using namespace cairn::attest;
using std::chrono::seconds;
using std::chrono::system_clock;

namespace {

const system_clock::time_point kIssued{seconds(1'700'000'000)};

TokenClaims sample_claims() {
  return {.host = "kvm-01",
          .image = "kvm-host 1.2.0",
          .boot_id = "boot-a",
          .reset_count = 7,
          .issued_at = 1'700'000'000,
          .expires_at = 1'700'000'000 + kTokenLifetime.count()};
}

std::string base64url(std::string_view bytes) {
  std::string text = base64_encode(bytes);
  while (!text.empty() && text.back() == '=') text.pop_back();
  for (char& c : text) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return text;
}

Errc failure(const Expected<TokenClaims>& result) {
  REQUIRE_FALSE(result.has_value());
  return result.error().code();
}

}  // namespace

TEST_CASE("a signed token verifies and carries its claims", "[token]") {
  auto key = generate_token_key();
  REQUIRE(key.has_value());
  auto token = sign_token(sample_claims(), key->get());
  REQUIRE(token.has_value());
  CHECK(token->find('=') == std::string::npos);
  CHECK(token->find('+') == std::string::npos);
  CHECK(token->find('/') == std::string::npos);

  auto claims = verify_token(*token, key->get(), "boot-a", kIssued + seconds(10));
  REQUIRE(claims.has_value());
  CHECK(claims->host == "kvm-01");
  CHECK(claims->image == "kvm-host 1.2.0");
  CHECK(claims->reset_count == 7);
  CHECK(claims->expires_at == 1'700'000'600);

  // Verified with the public half only, as hosts and the qemu hook do.
  auto pem = public_key_pem(key->get());
  REQUIRE(pem.has_value());
  CHECK_THAT(*pem, Catch::StartsWith("-----BEGIN PUBLIC KEY-----"));
  auto public_only = parse_public_key_pem(*pem);
  REQUIRE(public_only.has_value());
  CHECK(verify_token(*token, public_only->get(), "boot-a", kIssued).has_value());
}

TEST_CASE("tampered, foreign, expired and garbage tokens are refused", "[token]") {
  auto key = generate_token_key();
  REQUIRE(key.has_value());
  std::string token = *sign_token(sample_claims(), key->get());
  auto dot = token.find('.');
  auto now = kIssued + seconds(1);

  SECTION("payload changed, signature kept") {
    auto claims = sample_claims();
    claims.host = "kvm-02";
    std::string forged = *sign_token(claims, key->get());
    forged = forged.substr(0, forged.find('.')) + token.substr(dot);
    CHECK(failure(verify_token(forged, key->get(), "boot-a", now)) == Errc::integrity);
  }
  SECTION("one payload character flipped") {
    std::string forged = token;
    forged[dot / 2] = forged[dot / 2] == 'A' ? 'B' : 'A';
    CHECK(failure(verify_token(forged, key->get(), "boot-a", now)) == Errc::integrity);
  }
  SECTION("signature changed") {
    std::string forged = token;
    forged[dot + 10] = forged[dot + 10] == 'A' ? 'B' : 'A';
    CHECK(failure(verify_token(forged, key->get(), "boot-a", now)) == Errc::integrity);
  }
  SECTION("signed by another key") {
    auto other = generate_token_key();
    REQUIRE(other.has_value());
    CHECK(failure(verify_token(token, other->get(), "boot-a", now)) == Errc::integrity);
  }
  SECTION("expired") {
    auto result = verify_token(token, key->get(), "boot-a", kIssued + kTokenLifetime);
    CHECK(failure(result) == Errc::crypto);
    CHECK_THAT(result.error().message(), Catch::Contains("expired"));
    CHECK(verify_token(token, key->get(), "boot-a", kIssued + kTokenLifetime - seconds(1)));
  }
  SECTION("another boot") {
    auto result = verify_token(token, key->get(), "boot-b", now);
    CHECK(failure(result) == Errc::invalid_input);
    CHECK_THAT(result.error().message(), Catch::Contains("boot-b"));
  }
  SECTION("garbage") {
    for (std::string garbage :
         {std::string(), std::string("."), std::string("abc"), token + ".x", token.substr(0, dot),
          "!!." + token.substr(dot + 1), token.substr(0, dot + 1), token + "="}) {
      INFO(garbage);
      CHECK(failure(verify_token(garbage, key->get(), "boot-a", now)) == Errc::integrity);
    }
  }
  SECTION("validly signed but not the claims object") {
    // A key that signs anything must still not make arbitrary JSON a token.
    std::string payload = base64url(R"({"host":"kvm-01"})");
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    std::size_t length = 128;
    std::string signature(length, '\0');
    REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key->get()) == 1);
    REQUIRE(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                           reinterpret_cast<const unsigned char*>(payload.data()),
                           payload.size()) == 1);
    signature.resize(length);
    auto result = verify_token(payload + "." + base64url(signature), key->get(), "boot-a", now);
    CHECK(failure(result) == Errc::integrity);
    CHECK_THAT(result.error().message(), Catch::Contains("claims"));
  }
}

TEST_CASE("token keys are P-256 only and read from PEM files", "[token]") {
  auto rsa = generate_rsa_key(2048);
  REQUIRE(rsa.has_value());
  auto signed_with_rsa = sign_token(sample_claims(), rsa->get());
  REQUIRE_FALSE(signed_with_rsa.has_value());
  CHECK(signed_with_rsa.error().code() == Errc::crypto);

  auto key = generate_token_key();
  REQUIRE(key.has_value());
  auto path = std::filesystem::temp_directory_path() /
              ("cairn-token-test-" + std::to_string(getpid()) + ".pem");
  {
    std::ofstream out(path);
    out << *public_key_pem(key->get());
  }
  auto read = read_public_key_pem(path);
  REQUIRE(read.has_value());
  CHECK(EVP_PKEY_eq(read->get(), key->get()) == 1);

  // A private key file is not a public key file: the verifier's secret never goes to hosts.
  REQUIRE(write_private_key_pem(path, key->get()).has_value());
  auto private_read = read_public_key_pem(path);
  REQUIRE_FALSE(private_read.has_value());
  CHECK_THAT(private_read.error().describe(), Catch::Contains(path.string()));
  std::filesystem::remove(path);

  CHECK_FALSE(read_public_key_pem(path).has_value());
  CHECK_FALSE(parse_public_key_pem("not pem").has_value());
}
