#include <catch2/catch.hpp>

#include "attest/host/agent.hpp"
#include "attest/revocations.hpp"
#include "common/fs.hpp"
#include "unit/attest/host/fakes.hpp"

using namespace cairn;
using namespace cairn::attest;
using namespace cairn::attest::host;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kBoot = "8f1c0e1e-0d1b-4c57-9a8e-2d3a1c2b3a4d";

struct TokenBox {
  TempDir dir = std::move(*TempDir::create(fs::temp_directory_path(), "cairn-token-"));
  EvpPkeyPtr key = std::move(*generate_token_key());
  AgentConfig config;
  std::chrono::system_clock::time_point now = std::chrono::system_clock::from_time_t(1'800'000'000);

  TokenBox() {
    config.host = "kvm-07";
    config.token = dir.path() / "token";
    config.boot_id = dir.path() / "boot_id";
    config.verifier_key = dir.path() / "key.pem";
    REQUIRE(write_file_atomic(config.boot_id, std::string(kBoot) + "\n"));
    REQUIRE(write_file_atomic(config.verifier_key, *public_key_pem(key.get())));
  }
  TokenClaims claims() const {
    return {.host = "kvm-07",
            .image = "kvm-host 1.0.0",
            .boot_id = std::string(kBoot),
            .reset_count = 3,
            .issued_at = 1'800'000'000 - 60,
            .expires_at = 1'800'000'000 + 540};
  }
  void store(const TokenClaims& claims, EVP_PKEY* signer) {
    REQUIRE(write_file_atomic(config.token, *sign_token(claims, signer) + "\n", 0600));
  }
};

}  // namespace

TEST_CASE("a token for this host and boot, before it expires, is valid", "[attest][host][token]") {
  TokenBox box;
  box.store(box.claims(), box.key.get());
  auto checked = check_token(box.config, box.now);
  REQUIRE(checked);
  CHECK(checked->valid);
  REQUIRE(checked->claims);
  CHECK(checked->claims->image == "kvm-host 1.0.0");
}

TEST_CASE("every way a token is not valid is named", "[attest][host][token]") {
  TokenBox box;
  std::string expect;
  SECTION("missing") { expect = "no admission token"; }
  SECTION("expired") {
    box.store(box.claims(), box.key.get());
    box.now += 541s;
    expect = "expire";
  }
  SECTION("another boot") {
    auto claims = box.claims();
    claims.boot_id = "00000000-0000-0000-0000-000000000000";
    box.store(claims, box.key.get());
    expect = "boot";
  }
  SECTION("another host") {
    auto claims = box.claims();
    claims.host = "kvm-08";
    box.store(claims, box.key.get());
    expect = "kvm-08";
  }
  SECTION("signed by another key") {
    auto other = generate_token_key();
    REQUIRE(other);
    box.store(box.claims(), other->get());
    expect = "signature";
  }
  SECTION("garbage") {
    REQUIRE(write_file_atomic(box.config.token, "not a token"));
    expect = "";
  }
  auto checked = check_token(box.config, box.now);
  REQUIRE(checked);
  CHECK_FALSE(checked->valid);
  CHECK_FALSE(checked->reason.empty());
  CHECK_THAT(checked->reason, Catch::Contains(expect, Catch::CaseSensitive::No));
}

TEST_CASE("check-token without a key is a configuration error", "[attest][host][token]") {
  TokenBox box;
  box.config.verifier_key.clear();
  auto checked = check_token(box.config, box.now);
  REQUIRE_FALSE(checked);
  CHECK(checked.error().code() == Errc::invalid_input);
  box.config.verifier_key = box.dir.path() / "absent.pem";
  CHECK_FALSE(check_token(box.config, box.now));
}

namespace {

RevocationList revoking(std::vector<std::string> images, std::int64_t serial,
                        std::int64_t expires_at = 1'800'000'000 + 3600) {
  return {.serial = serial,
          .issued_at = 1'800'000'000 - 10,
          .expires_at = expires_at,
          .revoked = std::move(images)};
}

}  // namespace

TEST_CASE("a token whose image was revoked since is refused once the verifier says so",
          "[attest][host][token][revocation]") {
  TokenBox box;
  box.store(box.claims(), box.key.get());
  host::testing::FakeVerifier verifier;

  SECTION("the verifier's list names the image") {
    verifier.revocation_answer =
        *sign_revocation_list(revoking({"kvm-host 1.0.0"}, 5), box.key.get());
    auto checked = check_token(box.config, box.now, &verifier);
    REQUIRE(checked);
    CHECK_FALSE(checked->valid);
    CHECK_THAT(checked->reason, Catch::Contains("kvm-host 1.0.0 has been revoked") &&
                                    Catch::Contains("revocation list 5"));
    // Kept: with the verifier out of reach the host still refuses, until the list expires.
    verifier.revocation_answer = std::unexpected(Error(Errc::unavailable, "down"));
    CHECK_FALSE(check_token(box.config, box.now, &verifier)->valid);
    CHECK(check_token(box.config, box.now + 3700s, &verifier)->valid ==
          false);  // token expired too
    // An older list (a replay that would hide the revocation) is ignored.
    verifier.revocation_answer = *sign_revocation_list(revoking({}, 4), box.key.get());
    auto replayed = check_token(box.config, box.now, &verifier);
    CHECK_FALSE(replayed->valid);
    CHECK(replayed->revocation_serial == 5);
  }
  SECTION("a list that names other images, or none, keeps the token valid") {
    verifier.revocation_answer =
        *sign_revocation_list(revoking({"kvm-host 0.9.0", "kvm-host 1.0.0-rc1"}, 7), box.key.get());
    auto checked = check_token(box.config, box.now, &verifier);
    REQUIRE(checked);
    CHECK(checked->valid);
    CHECK(checked->revocation_serial == 7);
    CHECK(fs::exists(revocation_list_path(box.config)));
  }
  SECTION("a list signed by another key, or expired, is not believed") {
    auto stranger = std::move(*generate_token_key());
    verifier.revocation_answer =
        *sign_revocation_list(revoking({"kvm-host 1.0.0"}, 9), stranger.get());
    CHECK(check_token(box.config, box.now, &verifier)->valid);
    verifier.revocation_answer =
        *sign_revocation_list(revoking({"kvm-host 1.0.0"}, 9, 1'800'000'000 - 1), box.key.get());
    CHECK(check_token(box.config, box.now, &verifier)->valid);
    CHECK_FALSE(fs::exists(revocation_list_path(box.config)));
  }
  SECTION("no verifier asked: the token alone decides") {
    CHECK(check_token(box.config, box.now)->valid);
    CHECK(verifier.revocation_requests == 0);
  }
}

TEST_CASE("a revocation list is signed, typed and dated", "[attest][revocation]") {
  auto key = std::move(*generate_token_key());
  auto now = std::chrono::system_clock::from_time_t(1'800'000'000);
  auto text = *sign_revocation_list(revoking({"kvm-host 1.0.0"}, 12), key.get());
  auto list = verify_revocation_list(text, key.get(), now);
  REQUIRE(list.has_value());
  CHECK(list->serial == 12);
  CHECK(list->revokes("kvm-host 1.0.0"));
  CHECK_FALSE(list->revokes("kvm-host 1.0"));
  CHECK(verify_revocation_list(text, key.get(), now + 3600s).error().code() == Errc::crypto);
  std::string tampered = text;
  tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
  CHECK(verify_revocation_list(tampered, key.get(), now).error().code() == Errc::integrity);
  // An admission token is not a revocation list, nor the other way round, under the same key.
  TokenClaims claims{.host = "h", .image = "i", .boot_id = "b", .expires_at = 1'900'000'000};
  auto token = *sign_token(claims, key.get());
  CHECK_THAT(verify_revocation_list(token, key.get(), now).error().message(),
             Catch::Contains("not a revocation list"));
  CHECK_FALSE(verify_token(text, key.get(), "b", now).has_value());
}
