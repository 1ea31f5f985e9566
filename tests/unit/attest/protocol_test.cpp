#include "attest/protocol.hpp"

#include <catch2/catch.hpp>
#include <functional>
#include <nlohmann/json.hpp>

using namespace cairn;
using namespace cairn::attest;
using nlohmann::json;

namespace {

QuoteSubmission sample_submission() {
  QuoteSubmission message;
  message.host = "kvm-01.lab";
  message.nonce = base64_encode(std::string(32, '\x5a'));
  message.quoted = base64_encode("\xff\x54\x43\x47 quote");
  message.signature = base64_encode("sig");
  message.pcrs[0] = std::string(64, 'a');
  message.pcrs[11] = std::string(64, 'b');
  message.event_log = base64_encode(std::string("\0\1\2log", 6));
  message.boot_id = "0b5c6f2e-0000-4000-8000-000000000001";
  return message;
}

// The sample submission as JSON, changed by `edit`, parsed back: the error text or "ok".
std::string parse_edited(const std::function<void(json&)>& edit) {
  json document = json::parse(to_json(sample_submission()));
  edit(document);
  auto parsed = parse_QuoteSubmission(document.dump());
  return parsed ? "ok" : parsed.error().describe();
}

}  // namespace

TEST_CASE("every message survives a JSON round trip", "[protocol]") {
  EnrollRequest enroll{
      .host = "h1", .ek_public = "AAE=", .ek_certificate = "MIIB", .ak_public = "AAI="};
  auto enroll_back = parse_EnrollRequest(to_json(enroll));
  REQUIRE(enroll_back.has_value());
  CHECK(enroll_back->ek_certificate == "MIIB");
  CHECK(enroll_back->ak_public == "AAI=");
  enroll.ek_certificate.reset();
  CHECK_FALSE(parse_EnrollRequest(to_json(enroll))->ek_certificate.has_value());

  EnrollChallenge challenge{.enrollment = "e-17",
                            .credential_blob = "AAEC",
                            .encrypted_secret = "AwQF",
                            .expires_at = 1700000000};
  auto challenge_back = parse_EnrollChallenge(to_json(challenge));
  REQUIRE(challenge_back.has_value());
  CHECK(challenge_back->expires_at == 1700000000);
  CHECK(to_json(*challenge_back) == to_json(challenge));

  EnrollActivation activation{.enrollment = "e-17", .secret = "c2VjcmV0"};
  CHECK(parse_EnrollActivation(to_json(activation))->secret == "c2VjcmV0");

  EnrollResult result{.host = "h1", .ak_name = "000b" + std::string(64, 'c')};
  CHECK(parse_EnrollResult(to_json(result))->ak_name == result.ak_name);

  CHECK(parse_NonceRequest(to_json(NonceRequest{.host = "h1"}))->host == "h1");

  NonceGrant grant{.nonce = base64_encode(std::string(32, 'n')),
                   .expires_at = 5,
                   .pcrs = {std::begin(kQuotedPcrs), std::end(kQuotedPcrs)}};
  auto grant_back = parse_NonceGrant(to_json(grant));
  REQUIRE(grant_back.has_value());
  CHECK(grant_back->pcrs == grant.pcrs);

  auto submission = sample_submission();
  submission.systemd_log = base64_encode("log");
  auto submission_back = parse_QuoteSubmission(to_json(submission));
  REQUIRE(submission_back.has_value());
  CHECK(submission_back->pcrs == submission.pcrs);
  CHECK(submission_back->systemd_log == submission.systemd_log);
  CHECK(to_json(*submission_back) == to_json(submission));

  Verdict verdict{.host = "h1",
                  .admitted = true,
                  .image_version = "kvm-host 1.0.0",
                  .checks = {{"nonce", true, "fresh"}, {"pcr11-approved", false, "no match"}},
                  .token = "a.b"};
  auto verdict_back = parse_Verdict(to_json(verdict));
  REQUIRE(verdict_back.has_value());
  REQUIRE(verdict_back->checks.size() == 2);
  CHECK(verdict_back->checks[1].name == "pcr11-approved");
  CHECK_FALSE(verdict_back->checks[1].passed);
  CHECK(verdict_back->token == "a.b");
  CHECK(to_json(*verdict_back) == to_json(verdict));
}

TEST_CASE("message errors name the key that is wrong", "[protocol]") {
  CHECK(parse_edited([](json&) {}) == "ok");
  CHECK_THAT(parse_edited([](json& m) { m["extra"] = 1; }),
             Catch::Contains("QuoteSubmission: unknown key 'extra'"));
  CHECK_THAT(parse_edited([](json& m) { m.erase("quoted"); }),
             Catch::Contains("QuoteSubmission: missing 'quoted'"));
  CHECK_THAT(parse_edited([](json& m) { m["nonce"] = 5; }),
             Catch::Contains("QuoteSubmission.nonce: must be a string"));
  CHECK_THAT(parse_edited([](json& m) { m["signature"] = "not base64!"; }),
             Catch::Contains("QuoteSubmission.signature: not padded standard base64"));
  CHECK_THAT(parse_edited([](json& m) { m["host"] = "a/b"; }),
             Catch::Contains("QuoteSubmission.host"));
  CHECK_THAT(parse_edited([](json& m) { m["pcrs"]["24"] = std::string(64, 'a'); }),
             Catch::Contains("QuoteSubmission.pcrs: '24' is not a PCR index"));
  CHECK_THAT(parse_edited([](json& m) { m["pcrs"]["07"] = std::string(64, 'a'); }),
             Catch::Contains("'07' is not a PCR index"));
  CHECK_THAT(parse_edited([](json& m) { m["pcrs"]["7"] = std::string(64, 'A'); }),
             Catch::Contains("PCR 7: must be 64 lowercase hex digits"));
  CHECK_THAT(parse_edited([](json& m) { m["systemd_log"] = "@@@="; }),
             Catch::Contains("QuoteSubmission.systemd_log"));
  CHECK(parse_edited([](json& m) { m["systemd_log"] = nullptr; }) == "ok");

  auto not_json = parse_NonceRequest("{\"host\":");
  REQUIRE_FALSE(not_json.has_value());
  CHECK(not_json.error().code() == Errc::invalid_input);
  CHECK_THAT(not_json.error().describe(), Catch::Contains("NonceRequest: not JSON"));
  CHECK_THAT(parse_NonceRequest("[1]").error().describe(), Catch::Contains("not an object"));
  // A client naming its host twice must not get one host checked and the other recorded.
  CHECK_THAT(parse_NonceRequest(R"({"host":"kvm-01","host":"kvm-02"})").error().describe(),
             Catch::Contains("NonceRequest: key 'host' appears twice"));
  CHECK_THAT(parse_NonceGrant(R"({"nonce":"","expires_at":1.5,"pcrs":[]})").error().describe(),
             Catch::Contains("NonceGrant.expires_at: must be an integer"));
  CHECK_THAT(parse_NonceGrant(R"({"nonce":"","expires_at":1,"pcrs":[3,3]})").error().describe(),
             Catch::Contains("NonceGrant.pcrs: must be ascending"));
  CHECK_THAT(parse_Verdict(
                 R"({"host":"h","admitted":true,"checks":[{"name":"x","passed":1,"detail":""}]})")
                 .error()
                 .describe(),
             Catch::Contains("Verdict.checks[0].passed: must be true or false"));
  CHECK_THAT(parse_EnrollResult(R"({"host":"h","ak_name":"00XY"})").error().describe(),
             Catch::Contains("EnrollResult.ak_name: must be lowercase hex"));
}
