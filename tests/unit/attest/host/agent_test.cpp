#include "attest/host/agent.hpp"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "common/hash.hpp"
#include "tests/unit/attest/host/fakes.hpp"

using namespace cairn;
using namespace cairn::attest;
using namespace cairn::attest::host;
using namespace cairn::attest::host::testing;
namespace fs = std::filesystem;

namespace {

struct Sandbox {
  TempDir dir = std::move(*TempDir::create(fs::temp_directory_path(), "cairn-agent-"));
  AgentConfig config;
  Sandbox() {
    config.verifier_url = "http://verifier.test:8443";
    config.host = "kvm-07";
    config.event_log = dir.path() / "binary_bios_measurements";
    config.systemd_log = dir.path() / "tpm2-measure.log";
    config.boot_id = dir.path() / "boot_id";
    config.token = dir.path() / "run/cairn/attest/token";
    config.verifier_key = dir.path() / "token-key.pem";
    REQUIRE(write_file_atomic(config.event_log, std::string("\x00\x01log", 5)));
    REQUIRE(write_file_atomic(config.boot_id, "8f1c0e1e-0d1b-4c57-9a8e-2d3a1c2b3a4d\n"));
  }
};

std::string decoded(const std::string& base64) { return *base64_decode(base64); }

}  // namespace

TEST_CASE("enroll sends the TPM's keys and returns the secret the TPM released",
          "[attest][host][agent]") {
  Sandbox box;
  FakeTpm tpm;
  FakeVerifier verifier;
  auto result = enroll(tpm, verifier, box.config);
  REQUIRE(result);
  CHECK(result->ak_name == "000baabb");
  REQUIRE(verifier.seen_enroll);
  CHECK(verifier.seen_enroll->host == "kvm-07");
  CHECK(decoded(verifier.seen_enroll->ek_public) == "ek-public");
  CHECK(decoded(verifier.seen_enroll->ak_public) == "ak-public");
  REQUIRE(verifier.seen_enroll->ek_certificate);
  CHECK(decoded(*verifier.seen_enroll->ek_certificate) == "ek-cert");
  CHECK(tpm.seen_blob == bytes_of("blob"));
  CHECK(tpm.seen_secret == bytes_of("secret"));
  REQUIRE(verifier.seen_activation);
  CHECK(verifier.seen_activation->enrollment == "e-1");
  CHECK(decoded(verifier.seen_activation->secret) == "the secret");
}

TEST_CASE("enroll fails when the verifier enrolled another AK name", "[attest][host][agent]") {
  Sandbox box;
  FakeTpm tpm;
  FakeVerifier verifier;
  verifier.result.ak_name = "000bcccc";
  auto result = enroll(tpm, verifier, box.config);
  REQUIRE_FALSE(result);
  CHECK(result.error().code() == Errc::integrity);
  CHECK_THAT(result.error().message(), Catch::Contains("000bcccc"));
}

TEST_CASE("enroll stops when the TPM refuses the credential", "[attest][host][agent]") {
  Sandbox box;
  FakeTpm tpm;
  tpm.activate_error = Error(Errc::integrity, "the TPM refused the credential");
  FakeVerifier verifier;
  auto result = enroll(tpm, verifier, box.config);
  REQUIRE_FALSE(result);
  CHECK(result.error().code() == Errc::integrity);
  CHECK_FALSE(verifier.seen_activation);  // nothing sent without the secret
}

TEST_CASE("enroll and attest need a verifier URL", "[attest][host][agent]") {
  Sandbox box;
  box.config.verifier_url.clear();
  FakeTpm tpm;
  FakeVerifier verifier;
  CHECK(enroll(tpm, verifier, box.config).error().code() == Errc::invalid_input);
  CHECK(host::attest(tpm, verifier, box.config).error().code() == Errc::invalid_input);
  CHECK_FALSE(verifier.seen_enroll);
}

TEST_CASE("attest quotes the granted nonce and PCRs and keeps the token on admission",
          "[attest][host][agent]") {
  Sandbox box;
  REQUIRE(write_file_atomic(box.config.systemd_log, "systemd"));
  box.config.save_submission = box.dir.path() / "submission.json";
  FakeTpm tpm;
  FakeVerifier verifier;
  auto verdict = host::attest(tpm, verifier, box.config);
  REQUIRE(verdict);
  CHECK(verdict->admitted);
  CHECK(tpm.seen_nonce == bytes_of("0123456789abcdef0123456789abcdef"));
  CHECK(tpm.seen_pcrs == std::vector<std::uint32_t>{0, 7});
  REQUIRE(verifier.seen_submission);
  const QuoteSubmission& sent = *verifier.seen_submission;
  CHECK(sent.host == "kvm-07");
  CHECK(sent.nonce == verifier.grant.nonce);
  CHECK(decoded(sent.quoted) == "tpms-attest");
  CHECK(decoded(sent.signature) == "tpmt-signature");
  CHECK(decoded(sent.event_log) == std::string("\x00\x01log", 5));
  REQUIRE(sent.systemd_log);
  CHECK(decoded(*sent.systemd_log) == "systemd");
  CHECK(sent.boot_id == "8f1c0e1e-0d1b-4c57-9a8e-2d3a1c2b3a4d");
  CHECK(sent.pcrs.at(0) == std::string(64, '1'));
  CHECK(sent.pcrs.at(7) == to_hex(Bytes(32, 0x77)));
  auto saved = parse_QuoteSubmission(*read_file(box.config.save_submission));
  REQUIRE(saved);
  CHECK(saved->quoted == sent.quoted);
  CHECK(saved->nonce == sent.nonce);
  CHECK(*read_file(box.config.token) == "payload.signature");
  struct stat st {};
  REQUIRE(::stat(box.config.token.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("a denial is a verdict and removes the previous token", "[attest][host][agent]") {
  Sandbox box;
  fs::create_directories(box.config.token.parent_path());
  REQUIRE(write_file_atomic(box.config.token, "old.token", 0600));
  FakeTpm tpm;
  FakeVerifier verifier;
  verifier.verdict = Verdict{.host = "kvm-07",
                             .admitted = false,
                             .checks = {{.name = "pcr12", .passed = false, .detail = "non-zero"}}};
  auto verdict = host::attest(tpm, verifier, box.config);
  REQUIRE(verdict);
  CHECK_FALSE(verdict->admitted);
  CHECK(verdict->checks.at(0).name == "pcr12");
  CHECK_FALSE(fs::exists(box.config.token));
  CHECK_FALSE(verifier.seen_submission->systemd_log);  // no systemd log on this host
}

TEST_CASE("attest reports what kept it from a verdict", "[attest][host][agent]") {
  Sandbox box;
  FakeTpm tpm;
  FakeVerifier verifier;
  SECTION("verifier unreachable") {
    verifier.nonce_error = Error(Errc::unavailable, "the verifier is unreachable");
    auto verdict = host::attest(tpm, verifier, box.config);
    REQUIRE_FALSE(verdict);
    CHECK(verdict.error().code() == Errc::unavailable);
    CHECK(tpm.seen_nonce.empty());
  }
  SECTION("no event log") {
    fs::remove(box.config.event_log);
    auto verdict = host::attest(tpm, verifier, box.config);
    REQUIRE_FALSE(verdict);
    CHECK_THAT(verdict.error().describe(), Catch::Contains("event log"));
    CHECK_FALSE(verifier.seen_submission);
  }
  SECTION("admitted without a token") {
    verifier.verdict.token.reset();
    auto verdict = host::attest(tpm, verifier, box.config);
    REQUIRE_FALSE(verdict);
    CHECK_FALSE(fs::exists(box.config.token));
  }
  SECTION("a nonce that is not base64") {
    verifier.grant.nonce = "not base64!";
    auto verdict = host::attest(tpm, verifier, box.config);
    REQUIRE_FALSE(verdict);
    CHECK_THAT(verdict.error().message(), Catch::Contains("nonce"));
  }
}
