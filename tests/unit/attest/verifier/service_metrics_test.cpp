// The service's metrics and last verdicts, through its transport-free endpoint methods (the
// HTTP transport is tested in service_test.cpp).
#include "attest/verifier/service_metrics.hpp"

#include <catch2/catch.hpp>

#include "attest/token.hpp"
#include "attest/verifier/service.hpp"
#include "fake_seams.hpp"
#include "prometheus_text.hpp"
#include "unit/attest/soft_tpm.hpp"

using namespace cairn;
using namespace cairn::attest;
using namespace cairn::attest::verifier;
using cairn::attest::testing::SoftImage;
using cairn::attest::testing::SoftTpm;
using cairn::attest::verifier::testing::Exposition;
using namespace std::chrono_literals;

namespace {

std::string encode(const Bytes& bytes) {
  return base64_encode({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

struct Verifier {
  Store store = std::move(Store::open(":memory:").value());
  verifier::testing::FakeSeams fake;
  VerifierService service{store, generate_token_key().value(), fake.seams(),
                          ServiceOptions{.allow_ek_without_certificate = true}};

  Exposition metrics() {
    auto text = service.metrics_text();
    auto exposition = verifier::testing::parse_prometheus_text(text);
    INFO(text);
    if (!exposition) FAIL(exposition.error().describe());
    return std::move(*exposition);
  }
  Bytes grant(const std::string& host) {
    auto grant = service.grant_nonce({host});
    REQUIRE(grant.has_value());
    auto nonce = base64_decode(grant->nonce).value();
    return Bytes(nonce.begin(), nonce.end());
  }
  void enroll(const std::string& host, const SoftTpm& tpm) {
    auto draws = fake.drawn->size();  // the credential's secret is the enrollment's first draw
    auto challenge = service.enroll(
        {.host = host, .ek_public = encode(tpm.ek_public()), .ak_public = encode(tpm.ak_public())});
    REQUIRE(challenge.has_value());
    auto secret = encode((*fake.drawn)[draws]);
    REQUIRE(service.activate({challenge->enrollment, secret}).has_value());
  }
};

double counted(const Exposition& metrics, std::string_view name,
               const verifier::testing::LabelMap& labels = {}) {
  auto value = metrics.value(name, labels);
  INFO(name);
  REQUIRE(value.has_value());
  return *value;
}

}  // namespace

TEST_CASE("the service counts enrollments, nonces and verdicts and keeps each host's last",
          "[verifier][service][metrics]") {
  Verifier verifier;
  auto fresh = verifier.metrics();
  for (auto result : {"admitted", "denied"}) {
    CHECK(counted(fresh, "cairn_verifier_verdicts_total", {{"result", result}}) == 0);
  }
  for (auto result : {"challenged", "enrolled", "refused"}) {
    CHECK(counted(fresh, "cairn_verifier_enrollments_total", {{"result", result}}) == 0);
  }
  CHECK(counted(fresh, "cairn_verifier_nonces_issued_total") == 0);
  CHECK(counted(fresh, "cairn_verifier_hosts", {{"last_verdict", "none"}}) == 0);

  auto image = SoftImage::create("kvm-host", "1.0.0");
  REQUIRE(verifier.store.add_image(
      make_image_version(image.golden(), ImageState::approved, 0).value()));
  SoftTpm tpm;
  tpm.boot(image);
  CHECK_FALSE(verifier.service.activate({"ffff", "AAAA"}));  // unknown enrollment
  verifier.enroll("host-a", tpm);
  auto enrolled = verifier.metrics();
  CHECK(counted(enrolled, "cairn_verifier_enrollments_total", {{"result", "challenged"}}) == 1);
  CHECK(counted(enrolled, "cairn_verifier_enrollments_total", {{"result", "enrolled"}}) == 1);
  CHECK(counted(enrolled, "cairn_verifier_enrollments_total", {{"result", "refused"}}) == 1);
  CHECK(counted(enrolled, "cairn_verifier_hosts", {{"last_verdict", "none"}}) == 1);
  CHECK_FALSE(verifier.store.find_host("host-a").value()->last_verdict.has_value());

  auto submission = tpm.submission("host-a", verifier.grant("host-a"));
  auto admitted = verifier.service.attest(submission);
  REQUIRE(admitted.has_value());
  REQUIRE(admitted->admitted);
  auto after_pass = verifier.metrics();
  CHECK(counted(after_pass, "cairn_verifier_nonces_issued_total") == 1);
  CHECK(counted(after_pass, "cairn_verifier_verdicts_total", {{"result", "admitted"}}) == 1);
  CHECK(counted(after_pass, "cairn_verifier_verdicts_total", {{"result", "denied"}}) == 0);
  CHECK(counted(after_pass, "cairn_verifier_hosts", {{"last_verdict", "admitted"}}) == 1);
  CHECK(counted(after_pass, "cairn_verifier_hosts", {{"last_verdict", "none"}}) == 0);
  auto last = verifier.store.find_host("host-a").value()->last_verdict;
  REQUIRE(last.has_value());
  CHECK(last->admitted);
  CHECK(last->image_version == "kvm-host 1.0.0");
  CHECK(last->at == unix_seconds(*verifier.fake.now));

  verifier.fake.advance(30s);
  auto replayed = verifier.service.attest(submission);
  REQUIRE(replayed.has_value());
  REQUIRE_FALSE(replayed->admitted);
  auto after_replay = verifier.metrics();
  CHECK(counted(after_replay, "cairn_verifier_verdicts_total", {{"result", "denied"}}) == 1);
  CHECK(counted(after_replay, "cairn_verifier_hosts", {{"last_verdict", "denied"}}) == 1);
  CHECK(counted(after_replay, "cairn_verifier_hosts", {{"last_verdict", "admitted"}}) == 0);
  int failed = 0;
  for (const auto& check : replayed->checks) {
    if (check.passed) continue;
    ++failed;
    CHECK(counted(after_replay, "cairn_verifier_failed_checks_total", {{"check", check.name}}) ==
          1);
  }
  CHECK(failed > 0);
  CHECK(counted(after_replay, "cairn_verifier_failed_checks_total", {{"check", "nonce-unused"}}) ==
        1);
  last = verifier.store.find_host("host-a").value()->last_verdict;
  CHECK_FALSE(last->admitted);
  CHECK(last->image_version == replayed->image_version.value_or(""));
  CHECK(last->at == unix_seconds(*verifier.fake.now));

  // A host that is not enrolled is denied and counted, with no record to keep its verdict.
  auto stranger = verifier.service.attest(tpm.submission("host-z", Bytes(32, 1)));
  REQUIRE(stranger.has_value());
  auto after_stranger = verifier.metrics();
  CHECK(counted(after_stranger, "cairn_verifier_verdicts_total", {{"result", "denied"}}) == 2);
  CHECK(counted(after_stranger, "cairn_verifier_failed_checks_total",
                {{"check", "host-enrolled"}}) == 1);
  CHECK_FALSE(verifier.store.find_host("host-z").value().has_value());

  // Enrolling again (the same EK) keeps the host's last verdict.
  verifier.enroll("host-a", tpm);
  CHECK(verifier.store.find_host("host-a").value()->last_verdict.has_value());
  CHECK(counted(verifier.metrics(), "cairn_verifier_enrollments_total", {{"result", "enrolled"}}) ==
        2);
}

TEST_CASE("nonces that expire unused are counted when purged", "[verifier][service][metrics]") {
  Verifier verifier;
  SoftTpm tpm;
  tpm.boot(SoftImage::create("kvm-host", "1.0.0"));
  REQUIRE(verifier.store.put_host({.name = "host-a",
                                   .ek_public = tpm.ek_public(),
                                   .ak_public = tpm.ak_public(),
                                   .ak_name = tpm.ak_name()}));
  auto unused = verifier.grant("host-a");
  auto spent = verifier.grant("host-a");
  REQUIRE(verifier.service.attest(tpm.submission("host-a", spent)).has_value());
  REQUIRE(verifier.store.find_nonce(spent).value()->used);

  verifier.fake.advance(30min);  // expired, but kept an hour to be named "expired"
  verifier.grant("host-a");
  CHECK(counted(verifier.metrics(), "cairn_verifier_nonces_expired_total") == 0);
  verifier.fake.advance(1h);
  verifier.grant("host-a");
  auto metrics = verifier.metrics();
  CHECK_FALSE(verifier.store.find_nonce(unused).value().has_value());
  CHECK_FALSE(verifier.store.find_nonce(spent).value().has_value());
  CHECK(counted(metrics, "cairn_verifier_nonces_expired_total") == 1);  // the spent one is not
  CHECK(counted(metrics, "cairn_verifier_nonces_issued_total") == 4);
}

TEST_CASE("the transport's requests are counted by endpoint and code and timed",
          "[verifier][service][metrics]") {
  Verifier verifier;
  verifier.service.observe_request("/v1/attest", 200, 0.003);
  verifier.service.observe_request("/v1/attest", 200, 0.2);
  verifier.service.observe_request("/v1/attest", 400, 0.0001);
  verifier.service.observe_request("/v1/nonce", 404, 3.0);
  auto metrics = verifier.metrics();
  auto requests = [&](std::string endpoint, std::string code) {
    return counted(metrics, "cairn_verifier_requests_total",
                   {{"endpoint", endpoint}, {"code", code}});
  };
  CHECK(requests("/v1/attest", "200") == 2);
  CHECK(requests("/v1/attest", "400") == 1);
  CHECK(requests("/v1/nonce", "404") == 1);
  auto bucket = [&](std::string endpoint, std::string le) {
    return counted(metrics, "cairn_verifier_request_duration_seconds_bucket",
                   {{"endpoint", endpoint}, {"le", le}});
  };
  CHECK(bucket("/v1/attest", "0.001") == 1);
  CHECK(bucket("/v1/attest", "0.005") == 2);
  CHECK(bucket("/v1/attest", "0.25") == 3);
  CHECK(bucket("/v1/nonce", "2.5") == 0);
  CHECK(bucket("/v1/nonce", "+Inf") == 1);
  CHECK(counted(metrics, "cairn_verifier_request_duration_seconds_count",
                {{"endpoint", "/v1/attest"}}) == 3);
  CHECK(counted(metrics, "cairn_verifier_request_duration_seconds_sum",
                {{"endpoint", "/v1/attest"}}) == Approx(0.2031));

  std::map<std::string, std::string> types{{"cairn_verifier_verdicts_total", "counter"},
                                           {"cairn_verifier_failed_checks_total", "counter"},
                                           {"cairn_verifier_enrollments_total", "counter"},
                                           {"cairn_verifier_nonces_issued_total", "counter"},
                                           {"cairn_verifier_nonces_expired_total", "counter"},
                                           {"cairn_verifier_requests_total", "counter"},
                                           {"cairn_verifier_request_duration_seconds", "histogram"},
                                           {"cairn_verifier_hosts", "gauge"}};
  CHECK(metrics.types == types);
  for (const auto& [name, type] : types) CHECK_FALSE(metrics.help.at(name).empty());
}
