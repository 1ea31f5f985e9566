#include "attest/verifier/service.hpp"

#include <httplib.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "attest/revocations.hpp"
#include "attest/token.hpp"
#include "fake_seams.hpp"
#include "unit/attest/soft_tpm.hpp"

using namespace cairn;
using namespace cairn::attest;
using namespace cairn::attest::verifier;
using cairn::attest::testing::SoftImage;
using cairn::attest::testing::SoftTpm;
using namespace std::chrono_literals;

namespace {

std::string encode(const Bytes& bytes) {
  return base64_encode({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

// A verifier on a loopback port, serving from its own thread for the test's duration.
struct Server {
  Store store = std::move(Store::open(":memory:").value());
  verifier::testing::FakeSeams fake;
  std::vector<std::string> log;
  VerifierService service;
  int port = 0;
  std::thread thread;

  explicit Server(ServiceOptions options = {.allow_ek_without_certificate = true})
      : service(store, generate_token_key().value(), fake.seams(), with_log(std::move(options))) {
    port = service.bind({.host = "127.0.0.1", .port = 0, .loopback = true}).value();
    thread = std::thread([this] { (void)service.listen(); });
  }
  ~Server() {
    service.stop();
    thread.join();
  }
  ServiceOptions with_log(ServiceOptions options) {
    options.log = [this](const std::string& line) { log.push_back(line); };
    return options;
  }

  httplib::Client client() const {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(5);
    client.set_read_timeout(10);
    return client;
  }
  httplib::Result post(const std::string& path, const std::string& body) const {
    return client().Post(path.c_str(), body, "application/json");
  }
};

template <class T>
T parse_or_fail(Expected<T> parsed) {
  if (!parsed) FAIL(parsed.error().describe());
  return std::move(*parsed);
}

std::string error_of(const httplib::Result& result) {
  auto body = nlohmann::json::parse(result->body, nullptr, false);
  REQUIRE(body.is_object());
  REQUIRE(body.contains("error"));
  return body["error"].get<std::string>();
}

}  // namespace

TEST_CASE("over HTTP: enroll, nonce, attest, admitted with a token, then a replay denied",
          "[verifier][service]") {
  Server server;
  auto image = SoftImage::create("kvm-host", "1.0.0");
  REQUIRE(
      server.store.add_image(make_image_version(image.golden(), ImageState::approved, 0).value()));
  SoftTpm tpm;
  tpm.boot(image);

  auto enrolled =
      server.post("/v1/enroll", to_json(EnrollRequest{.host = "host-a",
                                                      .ek_public = encode(tpm.ek_public()),
                                                      .ak_public = encode(tpm.ak_public())}));
  REQUIRE(enrolled);
  REQUIRE(enrolled->status == 200);
  auto challenge = parse_or_fail(parse_EnrollChallenge(enrolled->body));
  auto secret = encode((*server.fake.drawn)[0]);
  auto activated =
      server.post("/v1/enroll/activate", to_json(EnrollActivation{challenge.enrollment, secret}));
  REQUIRE(activated->status == 200);
  CHECK(parse_or_fail(parse_EnrollResult(activated->body)).ak_name == to_hex(tpm.ak_name()));

  auto granted = server.post("/v1/nonce", to_json(NonceRequest{"host-a"}));
  REQUIRE(granted->status == 200);
  auto grant = parse_or_fail(parse_NonceGrant(granted->body));
  CHECK(grant.expires_at == unix_seconds(*server.fake.now + 60s));
  CHECK(grant.pcrs == std::vector<std::uint32_t>(std::begin(kQuotedPcrs), std::end(kQuotedPcrs)));
  auto nonce = base64_decode(grant.nonce).value();
  auto submission = to_json(tpm.submission("host-a", Bytes(nonce.begin(), nonce.end())));

  auto attested = server.post("/v1/attest", submission);
  REQUIRE(attested->status == 200);
  auto verdict = parse_or_fail(parse_Verdict(attested->body));
  for (const auto& check : verdict.checks) INFO(check.name << ": " << check.detail);
  REQUIRE(verdict.admitted);
  REQUIRE(verdict.token.has_value());
  auto stored = server.store.find_host("host-a").value();
  CHECK(stored->last_reset_count == tpm.reset_count());

  auto key_reply = server.client().Get("/v1/token-key");
  REQUIRE(key_reply->status == 200);
  auto pem = nlohmann::json::parse(key_reply->body)["public_key_pem"].get<std::string>();
  auto public_key = parse_public_key_pem(pem).value();
  auto claims = verify_token(*verdict.token, public_key.get(),
                             "6c3b2a7e-8f0d-4c1e-9a55-2f6e1d0b9c47", *server.fake.now);
  REQUIRE(claims.has_value());
  CHECK(claims->host == "host-a");

  auto replayed = server.post("/v1/attest", submission);
  REQUIRE(replayed->status == 200);
  auto denied = parse_or_fail(parse_Verdict(replayed->body));
  CHECK_FALSE(denied.admitted);
  CHECK_FALSE(denied.token.has_value());
  REQUIRE_FALSE(denied.checks.empty());
  CHECK(denied.checks.front().name == "nonce-unused");
  REQUIRE(server.log.size() == 5);  // enroll, activate, the lab's note, two verdicts
  CHECK_THAT(server.log[1], Catch::Contains("without a checked EK certificate"));
  CHECK_THAT(server.log.back(), Catch::Contains("denied; nonce-unused"));

  // The history the fleet's promotion asks for: host-a was admitted on 1.0.0 and on nothing
  // since (the replay's denial does not take it off).
  auto on_version = server.client().Get("/v1/versions/kvm-host/1.0.0/hosts");
  REQUIRE(on_version->status == 200);
  auto listed = nlohmann::json::parse(on_version->body);
  CHECK(listed["state"] == "approved");
  REQUIRE(listed["hosts"].size() == 1);
  CHECK(listed["hosts"][0]["host"] == "host-a");
  CHECK(listed["hosts"][0]["current"] == true);
  CHECK(listed["hosts"][0]["first_admitted_at"] == unix_seconds(*server.fake.now));
  auto unknown = server.client().Get("/v1/versions/kvm-host/9.9.9/hosts");
  CHECK(unknown->status == 404);
  CHECK_THAT(error_of(unknown), Catch::Contains("no image version kvm-host 9.9.9"));
  CHECK(server.post("/v1/versions/kvm-host/1.0.0/hosts", "{}")->status == 405);
  CHECK(server.client().Get("/v1/versions/kvm-host/hosts")->status == 404);
  CHECK(server.client().Get("/v1/versions//1.0.0/hosts")->status == 404);

  REQUIRE(server.client().Get("/no/such/path")->status == 404);
  auto health = server.client().Get("/healthz");
  CHECK(health->status == 200);
  auto metrics = server.client().Get("/metrics");
  REQUIRE(metrics->status == 200);
  CHECK_THAT(metrics->get_header_value("Content-Type"), Catch::StartsWith("text/plain"));
  CHECK_THAT(metrics->body,
             Catch::Contains(R"(cairn_verifier_verdicts_total{result="admitted"} 1)") &&
                 Catch::Contains(R"(cairn_verifier_verdicts_total{result="denied"} 1)"));
  // Requests are labelled by route, a stranger's path as "other".
  CHECK_THAT(
      metrics->body,
      Catch::Contains(R"(cairn_verifier_requests_total{endpoint="/v1/attest",code="200"} 2)"));
  CHECK_THAT(metrics->body, Catch::Contains(R"(endpoint="other",code="404"} 3)"));
  CHECK_THAT(metrics->body, !Catch::Contains("/no/such/path"));
}

TEST_CASE("over HTTP: a failed quote still spends its nonce and records no clock",
          "[verifier][service]") {
  Server server;
  auto image = SoftImage::create("kvm-host", "1.0.0");
  SoftTpm tpm;
  tpm.boot(image, {.secure_boot = false});
  REQUIRE(
      server.store.add_image(make_image_version(image.golden(), ImageState::approved, 0).value()));
  REQUIRE(server.store.put_host({.name = "host-a",
                                 .ek_public = tpm.ek_public(),
                                 .ak_public = tpm.ak_public(),
                                 .ak_name = tpm.ak_name()}));
  auto grant =
      parse_or_fail(parse_NonceGrant(server.post("/v1/nonce", R"({"host":"host-a"})")->body));
  auto nonce = base64_decode(grant.nonce).value();
  Bytes nonce_bytes(nonce.begin(), nonce.end());
  auto reply = server.post("/v1/attest", to_json(tpm.submission("host-a", nonce_bytes)));
  auto verdict = parse_or_fail(parse_Verdict(reply->body));
  CHECK_FALSE(verdict.admitted);
  CHECK(verdict.checks.front().name == "secure-boot");
  CHECK(server.store.find_nonce(nonce_bytes).value()->used);
  CHECK_FALSE(server.store.find_host("host-a").value()->last_reset_count.has_value());
}

TEST_CASE("only the host a nonce was granted to, with its AK's signature, can spend it",
          "[verifier][service]") {
  Server server;
  auto image = SoftImage::create("kvm-host", "1.0.0");
  REQUIRE(
      server.store.add_image(make_image_version(image.golden(), ImageState::approved, 0).value()));
  SoftTpm genuine, other(1);
  genuine.boot(image);
  other.boot(image);
  for (auto [name, tpm] : {std::pair{"host-a", &genuine}, std::pair{"host-b", &other}}) {
    REQUIRE(server.store.put_host({.name = name,
                                   .ek_public = tpm->ek_public(),
                                   .ek_sha256 = name,  // one EK per host, by constraint
                                   .ak_public = tpm->ak_public(),
                                   .ak_name = tpm->ak_name()}));
  }
  auto grant =
      parse_or_fail(parse_NonceGrant(server.post("/v1/nonce", R"({"host":"host-a"})")->body));
  auto nonce = base64_decode(grant.nonce).value();
  Bytes nonce_bytes(nonce.begin(), nonce.end());
  auto submit = [&](const QuoteSubmission& submission) {
    return parse_or_fail(parse_Verdict(server.post("/v1/attest", to_json(submission))->body));
  };

  // Another enrolled host submits host-a's nonce in its own name, then in host-a's name with its
  // own AK's signature, then with a signature that is no signature at all.
  CHECK_FALSE(submit(other.submission("host-b", nonce_bytes)).admitted);
  CHECK_FALSE(submit(other.submission("host-a", nonce_bytes)).admitted);
  auto garbled = genuine.submission("host-a", nonce_bytes);
  garbled.signature = base64_encode("not a signature");
  CHECK_FALSE(submit(garbled).admitted);
  CHECK_FALSE(server.store.find_nonce(nonce_bytes).value()->used);

  auto verdict = submit(genuine.submission("host-a", nonce_bytes));
  for (const auto& check : verdict.checks) INFO(check.name << ": " << check.detail);
  CHECK(verdict.admitted);
  CHECK(server.store.find_nonce(nonce_bytes).value()->used);
  CHECK_FALSE(submit(genuine.submission("host-a", nonce_bytes)).admitted);  // and only once
}

TEST_CASE("over HTTP: the signed revocation list names every revoked version",
          "[verifier][service][revocation]") {
  Server server;
  auto old = SoftImage::create("kvm-host", "1.0.0");
  auto next = old.next("1.0.1");
  for (auto* image : {&old, &next}) {
    REQUIRE(server.store.add_image(
        make_image_version(image->golden(), ImageState::approved, 0).value()));
  }
  REQUIRE(server.store.revoke_image("kvm-host", "1.0.0"));
  auto reply = server.client().Get("/v1/revocations");
  REQUIRE(reply->status == 200);
  auto key_reply = server.client().Get("/v1/token-key");
  auto pem = nlohmann::json::parse(key_reply->body)["public_key_pem"].get<std::string>();
  auto public_key = parse_public_key_pem(pem).value();
  auto list = verify_revocation_list(reply->body, public_key.get(), *server.fake.now);
  REQUIRE(list.has_value());
  CHECK(list->revoked == std::vector<std::string>{"kvm-host 1.0.0"});
  CHECK(list->expires_at == unix_seconds(*server.fake.now + kRevocationListLifetime));
  server.fake.advance(1s);
  auto later = verify_revocation_list(server.client().Get("/v1/revocations")->body,
                                      public_key.get(), *server.fake.now);
  CHECK(later->serial > list->serial);  // a newer list, for hosts that keep the newest
}

TEST_CASE("over HTTP: errors are JSON with one clear message", "[verifier][service]") {
  Server server({.max_request_bytes = 4096, .allow_ek_without_certificate = true});
  SECTION("malformed JSON") {
    auto reply = server.post("/v1/nonce", "{not json");
    REQUIRE(reply);
    CHECK(reply->status == 400);
    CHECK_FALSE(error_of(reply).empty());
  }
  SECTION("a missing key") {
    auto reply = server.post("/v1/enroll", R"({"host":"a"})");
    CHECK(reply->status == 400);
    CHECK_THAT(error_of(reply), Catch::Contains("ek_public"));
  }
  SECTION("a nonce for a host that is not enrolled") {
    auto reply = server.post("/v1/nonce", R"({"host":"nobody"})");
    CHECK(reply->status == 404);
    CHECK_THAT(error_of(reply), Catch::Contains("nobody"));
  }
  SECTION("an unknown enrollment") {
    auto reply = server.post("/v1/enroll/activate", R"({"enrollment":"ff","secret":"AAAA"})");
    CHECK(reply->status == 404);
  }
  SECTION("a body over the limit") {
    auto reply = server.post("/v1/attest", std::string(8192, ' '));
    REQUIRE(reply);
    CHECK(reply->status == 413);
    CHECK_THAT(error_of(reply), Catch::Contains("4096"));
  }
  SECTION("an unknown endpoint") {
    auto reply = server.client().Get("/v2/anything");
    CHECK(reply->status == 404);
    CHECK_THAT(error_of(reply), Catch::Contains("/v2/anything"));
  }
}

TEST_CASE("HTTP statuses follow the error codes", "[verifier][service]") {
  CHECK(http_status_for(Error(Errc::invalid_input, "")) == 400);
  CHECK(http_status_for(Error(Errc::permission, "")) == 403);
  CHECK(http_status_for(Error(Errc::crypto, "")) == 403);
  CHECK(http_status_for(Error(Errc::not_found, "")) == 404);
  CHECK(http_status_for(Error(Errc::io, "")) == 500);
}
