#include <catch2/catch.hpp>

#include "attest/host/agent.hpp"
#include "common/fs.hpp"

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
