#include "builder/keys.hpp"

#include <catch2/catch.hpp>

#include "common/cms.hpp"
#include "common/fs.hpp"

using namespace cairn;
using namespace cairn::builder;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// One PKI for the whole file: RSA key generation is slow.
const fs::path& shared_pki() {
  static TempDir dir = TempDir::create(fs::temp_directory_path(), "cairn-pki-").value();
  static bool made = [] {
    SystemProcessRunner runner;
    auto keys = create_dev_pki(dir.path(), {}, runner);
    if (!keys) FAIL(keys.error().describe());
    return true;
  }();
  (void)made;
  return dir.path();
}

}  // namespace

TEST_CASE("the dev PKI has every file a build needs, private keys 0600, only anchors in trust/") {
  const auto& dir = shared_pki();
  REQUIRE(load_build_keys(dir).has_value());
  for (const char* key : {"PK.key", "KEK.key", "db.key", "image-ca.key", "signing.key"}) {
    auto perms = fs::status(dir / key).permissions();
    CHECK((perms & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none);
  }
  for (const auto& entry : fs::directory_iterator(dir / "trust")) {
    CHECK(entry.path().extension() == ".crt");
    CHECK(read_file(entry.path()).value().find("PRIVATE KEY") == std::string::npos);
  }
  CHECK(fs::file_size(dir / "db.auth") > 0);
  CHECK(fs::exists(dir / "pki.json"));
}

TEST_CASE("existing keys are not overwritten without force") {
  SystemProcessRunner runner;
  auto again = create_dev_pki(shared_pki(), {}, runner);
  REQUIRE_FALSE(again.has_value());
  CHECK_THAT(again.error().describe(), Catch::Contains("--force"));
}

TEST_CASE("missing key material is named") {
  auto empty = TempDir::create(fs::temp_directory_path(), "cairn-nokeys-").value();
  auto keys = load_build_keys(empty.path());
  REQUIRE_FALSE(keys.has_value());
  CHECK_THAT(keys.error().describe(),
             Catch::Contains("missing key material: " + (empty.path() / "db.key").string()));
}

TEST_CASE("CMS signatures verify, are deterministic, and catch tampering") {
  const auto& dir = shared_pki();
  auto signer = CmsSigner::load(dir / "signing.key", dir / "signing.crt");
  REQUIRE(signer.has_value());
  auto verifier = CmsVerifier::load(dir / "trust");
  REQUIRE(verifier.has_value());
  auto first = signer->sign("commit abc");
  auto second = signer->sign("commit abc");
  REQUIRE(first.has_value());
  CHECK(*first == *second);
  auto identity = verifier->verify("commit abc", *first);
  REQUIRE(identity.has_value());
  CHECK_THAT(identity->subject, Catch::Contains("Cairn dev image signing"));

  auto tampered = verifier->verify("commit abd", *first);
  REQUIRE_FALSE(tampered.has_value());
  CHECK(tampered.error().code() == Errc::integrity);

  auto garbage = verifier->verify("commit abc", "not a signature");
  REQUIRE_FALSE(garbage.has_value());
  CHECK(garbage.error().code() == Errc::integrity);

  verifier->set_time(std::chrono::system_clock::now() + 24h * 365 * 3);
  auto expired = verifier->verify("commit abc", *first);
  REQUIRE_FALSE(expired.has_value());
  CHECK(expired.error().code() == Errc::crypto);
  CHECK_THAT(expired.error().describe(), Catch::Contains("has expired"));
}

TEST_CASE("a signer from another PKI is not trusted") {
  auto other = TempDir::create(fs::temp_directory_path(), "cairn-pki-other-").value();
  SystemProcessRunner runner;
  REQUIRE(create_dev_pki(other.path(), {}, runner).has_value());
  auto foreign = CmsSigner::load(other.path() / "signing.key", other.path() / "signing.crt");
  REQUIRE(foreign.has_value());
  auto verifier = CmsVerifier::load(shared_pki() / "trust").value();
  auto result = verifier.verify("data", foreign->sign("data").value());
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code() == Errc::crypto);
  CHECK_THAT(result.error().describe(), Catch::Contains("not trusted"));
}

TEST_CASE("a key that does not match its certificate is refused") {
  const auto& dir = shared_pki();
  auto mismatched = CmsSigner::load(dir / "db.key", dir / "signing.crt");
  REQUIRE_FALSE(mismatched.has_value());
  CHECK_THAT(mismatched.error().describe(), Catch::Contains("does not belong to"));
}
