#include "attest/verifier/enrollment.hpp"

#include <catch2/catch.hpp>

#include "attest/tpm/structures.hpp"
#include "common/fs.hpp"
#include "common/hash.hpp"
#include "common/pki.hpp"
#include "fake_seams.hpp"
#include "unit/attest/soft_tpm.hpp"
#include "unit/common/test_ca.hpp"

using namespace cairn;
using namespace cairn::attest;
using namespace cairn::attest::verifier;
using cairn::attest::testing::SoftTpm;
using namespace std::chrono_literals;

namespace {

std::string encode(const Bytes& bytes) {
  return base64_encode({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

EnrollRequest request_for(const SoftTpm& tpm, std::string host = "host-a") {
  return EnrollRequest{.host = std::move(host),
                       .ek_public = encode(tpm.ek_public()),
                       .ak_public = encode(tpm.ak_public())};
}

struct Fixture {
  Store store = std::move(Store::open(":memory:").value());
  verifier::testing::FakeSeams fake;
  std::vector<std::string> log;
  Enrollment enrollment{store,
                        fake.seams(),
                        {.allow_without_certificate = true,
                         .log = [this](const std::string& line) { log.push_back(line); }}};

  // The secret of the last challenge: the first draw of begin().
  std::string secret_of_last() const {
    REQUIRE(fake.drawn->size() >= 2);
    return encode((*fake.drawn)[fake.drawn->size() - 2]);
  }

  void enroll(const SoftTpm& tpm, std::string host = "host-a") {
    auto challenge = enrollment.begin(request_for(tpm, host));
    REQUIRE(challenge.has_value());
    auto result = enrollment.activate({challenge->enrollment, secret_of_last()});
    REQUIRE(result.has_value());
  }
};

}  // namespace

TEST_CASE("enrollment answers a credential and enrolls on the right secret",
          "[verifier][enrollment]") {
  Fixture f;
  SoftTpm tpm;
  auto challenge = f.enrollment.begin(request_for(tpm));
  REQUIRE(challenge.has_value());
  CHECK(challenge->expires_at == unix_seconds(*f.fake.now + 60s));
  CHECK_FALSE(challenge->credential_blob.empty());
  CHECK_FALSE(challenge->encrypted_secret.empty());
  CHECK_FALSE(f.store.find_host("host-a")->has_value());  // not before activation

  f.fake.advance(59s);
  auto result = f.enrollment.activate({challenge->enrollment, f.secret_of_last()});
  REQUIRE(result.has_value());
  CHECK(result->host == "host-a");
  CHECK(result->ak_name == to_hex(tpm.ak_name()));
  auto host = f.store.find_host("host-a");
  REQUIRE(host->has_value());
  CHECK((*host)->ak_public == tpm.ak_public());
  CHECK((*host)->ek_sha256 == to_hex(sha256(tpm.ek_public())));
  CHECK((*host)->enrolled_at == unix_seconds(*f.fake.now));

  // Single use: the same activation again finds nothing.
  auto again = f.enrollment.activate({challenge->enrollment, f.secret_of_last()});
  REQUIRE_FALSE(again);
  CHECK(again.error().code() == Errc::not_found);
}

TEST_CASE("a wrong secret is refused and spends the enrollment", "[verifier][enrollment]") {
  Fixture f;
  SoftTpm tpm;
  auto challenge = f.enrollment.begin(request_for(tpm));
  REQUIRE(challenge.has_value());
  auto right = f.secret_of_last();
  auto wrong = f.enrollment.activate({challenge->enrollment, encode(Bytes(32, 0))});
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().code() == Errc::crypto);
  auto late = f.enrollment.activate({challenge->enrollment, right});
  REQUIRE_FALSE(late);
  CHECK(late.error().code() == Errc::not_found);
  CHECK_FALSE(f.store.find_host("host-a")->has_value());
}

TEST_CASE("an expired enrollment is refused", "[verifier][enrollment]") {
  Fixture f;
  SoftTpm tpm;
  auto challenge = f.enrollment.begin(request_for(tpm));
  REQUIRE(challenge.has_value());
  f.fake.advance(60s);
  auto result = f.enrollment.activate({challenge->enrollment, f.secret_of_last()});
  REQUIRE_FALSE(result);
  CHECK(result.error().code() == Errc::invalid_input);
  CHECK_THAT(result.error().message(), Catch::Contains("expired"));
}

TEST_CASE("a host name keeps its EK until an operator removes it", "[verifier][enrollment]") {
  Fixture f;
  SoftTpm first, second(1);
  f.enroll(first);
  f.store.record_quote_clock("host-a", 5, 500).value();

  auto refused = f.enrollment.begin(request_for(second));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == Errc::permission);
  CHECK_THAT(refused.error().message(), Catch::Contains("hosts remove host-a"));

  SECTION("the same EK and AK again keeps the clock history") {
    f.enroll(first);
    CHECK((*f.store.find_host("host-a"))->last_reset_count == 5u);
    CHECK((*f.store.find_host("host-a"))->last_clock == 500u);
  }
  SECTION("the same EK with a new AK (a TPM clear) replaces the AK and starts a new history") {
    // The new AK's resetCount and clock are obfuscated differently: comparing them with the
    // old AK's would lock out the host the documented remedy is for.
    first.rotate_ak();
    f.enroll(first);
    auto host = f.store.find_host("host-a");
    CHECK((*host)->ak_public == first.ak_public());
    CHECK_FALSE((*host)->last_reset_count.has_value());
    CHECK_FALSE((*host)->last_clock.has_value());
  }
  SECTION("after removal another TPM may take the name") {
    REQUIRE(*f.store.remove_host("host-a"));
    f.enroll(second);
    CHECK((*f.store.find_host("host-a"))->ek_public == second.ek_public());
    CHECK_FALSE((*f.store.find_host("host-a"))->last_reset_count.has_value());
  }
  SECTION("an enrollment begun before another TPM enrolled the name is refused at activation") {
    REQUIRE(*f.store.remove_host("host-a"));
    auto pending = f.enrollment.begin(request_for(second));
    REQUIRE(pending.has_value());
    auto secret = f.secret_of_last();
    f.enroll(first);
    auto late = f.enrollment.activate({pending->enrollment, secret});
    REQUIRE_FALSE(late);
    CHECK(late.error().code() == Errc::permission);
  }
}

TEST_CASE("an EK belongs to one host name", "[verifier][enrollment]") {
  Fixture f;
  SoftTpm tpm;
  f.enroll(tpm, "host-a");
  auto second_name = f.enrollment.begin(request_for(tpm, "host-b"));
  REQUIRE_FALSE(second_name);
  CHECK(second_name.error().code() == Errc::permission);
  CHECK_THAT(second_name.error().message(),
             Catch::Contains("is enrolled as host host-a") && Catch::Contains("hosts remove"));
  CHECK_FALSE(f.store.find_host("host-b")->has_value());

  SECTION("an enrollment begun under a second name before the first finished is refused") {
    REQUIRE(*f.store.remove_host("host-a"));
    auto as_b = f.enrollment.begin(request_for(tpm, "host-b"));
    REQUIRE(as_b.has_value());
    auto secret_b = f.secret_of_last();
    f.enroll(tpm, "host-a");
    auto late = f.enrollment.activate({as_b->enrollment, secret_b});
    REQUIRE_FALSE(late);
    CHECK(late.error().code() == Errc::permission);
    CHECK_FALSE(f.store.find_host("host-b")->has_value());
  }
  SECTION("hosts remove frees the EK for another name") {
    REQUIRE(*f.store.remove_host("host-a"));
    f.enroll(tpm, "host-b");
    CHECK(f.store.find_host("host-b")->has_value());
  }
}

TEST_CASE("without an EK CA, only a lab that opted in enrolls, and each such host is logged",
          "[verifier][enrollment]") {
  Store store = std::move(Store::open(":memory:").value());
  verifier::testing::FakeSeams fake;
  SoftTpm tpm;
  Enrollment closed(store, fake.seams(), {});
  auto refused = closed.begin(request_for(tpm));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == Errc::crypto);
  CHECK_THAT(refused.error().message(), Catch::Contains("--allow-ek-without-certificate"));

  Fixture f;
  f.enroll(tpm);
  REQUIRE(f.log.size() == 1);
  CHECK_THAT(f.log[0], Catch::Contains("enrolled host-a without a checked EK certificate"));
}

TEST_CASE("malformed enrollment requests are refused", "[verifier][enrollment]") {
  Fixture f;
  SoftTpm tpm;
  auto request = request_for(tpm);
  SECTION("host name") {
    for (auto name : {"", "-x", "a/b", "host a", std::string(65, 'h').c_str()}) {
      request.host = name;
      auto result = f.enrollment.begin(request);
      REQUIRE_FALSE(result);
      CHECK(result.error().code() == Errc::invalid_input);
    }
    CHECK(is_valid_host_name("kvm-01.rack_3"));
  }
  SECTION("the EK offered as the AK (a decrypt key, not a restricted signing key)") {
    request.ak_public = request.ek_public;
    auto result = f.enrollment.begin(request);
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().describe(), Catch::Contains("ak_public"));
  }
  SECTION("the AK offered as the EK") {
    request.ek_public = request.ak_public;
    auto result = f.enrollment.begin(request);
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().describe(), Catch::Contains("ek_public"));
  }
  SECTION("not base64") {
    request.ak_public = "***";
    CHECK(f.enrollment.begin(request).error().code() == Errc::invalid_input);
  }
  CHECK(f.fake.drawn->empty());  // nothing pending was made
}

TEST_CASE("with an EK CA configured, an EK certificate must chain to it and certify the EK",
          "[verifier][enrollment]") {
  auto dir = TempDir::create(std::filesystem::temp_directory_path(), "verifier-ekca");
  REQUIRE(dir.has_value());
  auto now = std::chrono::system_clock::now();
  auto [ca_key, ca_cert] = cairn::testing::make_test_ca("swtpm-localca");
  auto [rogue_key, rogue_cert] = cairn::testing::make_test_ca("rogue");
  REQUIRE(write_certificate_pem(dir->path() / "swtpm-localca.pem", ca_cert.get()));
  auto certify = [&](EVP_PKEY* subject, EVP_PKEY* issuer_key, X509* issuer) {
    auto cert =
        issue_certificate({.common_name = "EK", .not_before = now - 1h, .not_after = now + 24h},
                          subject, issuer_key, issuer)
            .value();
    unsigned char* der = nullptr;
    int size = i2d_X509(cert.get(), &der);
    Bytes out(der, der + size);
    OPENSSL_free(der);
    return encode(out);
  };

  Store store = std::move(Store::open(":memory:").value());
  verifier::testing::FakeSeams fake;
  std::vector<std::string> log;
  EkPolicy policy{.ca = dir->path(), .log = [&](const std::string& line) { log.push_back(line); }};
  Enrollment enrollment(store, fake.seams(), policy);
  SoftTpm tpm, other(1);
  auto request = request_for(tpm);
  SECTION("issued by the CA for this EK") {
    request.ek_certificate = certify(tpm.ek_key(), ca_key.get(), ca_cert.get());
    CHECK(enrollment.begin(request).has_value());
  }
  SECTION("issued by another CA") {
    request.ek_certificate = certify(tpm.ek_key(), rogue_key.get(), rogue_cert.get());
    auto result = enrollment.begin(request);
    REQUIRE_FALSE(result);
    CHECK(result.error().code() == Errc::crypto);
  }
  SECTION("for another TPM's EK") {
    request.ek_certificate = certify(other.ek_key(), ca_key.get(), ca_cert.get());
    auto result = enrollment.begin(request);
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().message(), Catch::Contains("another key"));
  }
  SECTION("no certificate at all is refused: any software TPM could enroll") {
    auto result = enrollment.begin(request);
    REQUIRE_FALSE(result);
    CHECK(result.error().code() == Errc::crypto);
    CHECK_THAT(result.error().message(), Catch::Contains("no EK certificate"));
  }
  SECTION("no certificate, in a lab that opted in: enrolled, and logged") {
    policy.allow_without_certificate = true;
    Enrollment lab(store, fake.seams(), policy);
    auto challenge = lab.begin(request);
    REQUIRE(challenge.has_value());
    auto secret = encode((*fake.drawn)[fake.drawn->size() - 2]);
    REQUIRE(lab.activate({challenge->enrollment, secret}).has_value());
    REQUIRE(log.size() == 1);
    CHECK_THAT(log[0], Catch::Contains("without a checked EK certificate"));
  }
}
