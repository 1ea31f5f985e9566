#include "builder/keys.hpp"

#include <catch2/catch.hpp>

#include "common/cms.hpp"
#include "common/fs.hpp"
#include "common/pki.hpp"

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

TEST_CASE("a CMS signature with two signers is refused, its certificates left to the CMS") {
  // CMS_get0_signers lends the CMS's own certificates: freeing them with the stack freed them
  // twice whenever there was not exactly one signer.
  const auto& dir = shared_pki();
  auto key = read_private_key_pem(dir / "signing.key");
  auto cert = read_certificate_pem(dir / "signing.crt");
  REQUIRE(key.has_value());
  REQUIRE(cert.has_value());
  const unsigned flags = CMS_DETACHED | CMS_BINARY | CMS_NOATTR | CMS_NOSMIMECAP | CMS_PARTIAL;
  CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
  REQUIRE(cms);
  // The same key twice: both SignerInfos verify, and the certificate is embedded once.
  REQUIRE(CMS_add1_signer(cms.get(), cert->get(), key->get(), EVP_sha256(), flags));
  REQUIRE(CMS_add1_signer(cms.get(), cert->get(), key->get(), EVP_sha256(), flags | CMS_NOCERTS));
  std::string data = "commit abc";
  BioPtr in(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  REQUIRE(CMS_final(cms.get(), in.get(), nullptr, flags) == 1);
  BioPtr out(BIO_new(BIO_s_mem()));
  REQUIRE(i2d_CMS_bio(out.get(), cms.get()) == 1);
  char* bytes = nullptr;
  long size = BIO_get_mem_data(out.get(), &bytes);
  std::string signature(bytes, static_cast<std::size_t>(size));

  auto verifier = CmsVerifier::load(dir / "trust").value();
  auto twice = verifier.verify(data, signature);
  REQUIRE_FALSE(twice.has_value());
  CHECK(twice.error().code() == Errc::integrity);
  CHECK_THAT(twice.error().describe(), Catch::Contains("expected exactly one signer"));
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
