// attest_verify_bench [SECONDS]: the verifier's cost per quote, on one core, measured against the
// cost of the one step no verifier can skip (the AK signature check) in the same run, so the
// ratio says how much the rest of the policy (event log replay, image checks, token) adds.
// Also times one host's enrollment and first verdict through the service, store included.
// Prints "key: value" lines for bench/verify.
#include <openssl/rand.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>

#include "attest/protocol.hpp"
#include "attest/tpm/structures.hpp"
#include "attest/verifier/policy.hpp"
#include "attest/verifier/records.hpp"
#include "attest/verifier/service.hpp"
#include "attest/verifier/store.hpp"
#include "common/eventlog.hpp"
#include "unit/attest/soft_tpm.hpp"

using namespace cairn;
using namespace cairn::attest;
using namespace cairn::attest::verifier;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "attest_verify_bench: %s\n", what.c_str());
  std::exit(1);
}

template <class T>
T need(Expected<T> result, const char* what) {
  if (!result) die(std::string(what) + ": " + result.error().describe());
  return std::move(*result);
}

void need(Status result, const char* what) {
  if (!result) die(std::string(what) + ": " + result.error().describe());
}

Bytes decode(const std::string& base64) {
  auto text = need(base64_decode(base64), "base64");
  return Bytes(text.begin(), text.end());
}

double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// Calls `body` until `seconds` of this thread's CPU time have passed; returns calls per CPU
// second, i.e. per core, whatever else the machine runs meanwhile.
template <class Body>
double rate(double seconds, Body body) {
  long calls = 0;
  double start = thread_cpu_seconds();
  double elapsed = 0;
  do {
    for (int i = 0; i < 16; ++i) body();
    calls += 16;
    elapsed = thread_cpu_seconds() - start;
  } while (elapsed < seconds);
  return static_cast<double>(calls) / elapsed;
}

double milliseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Enrollment and the first verdict of a new host through VerifierService (SQLite file store),
// verifier side only: the host's TPM work (ActivateCredential, Quote) is not timed.
void enrollment_and_first_verdict(const testing::SoftImage& image) {
  auto dir =
      std::filesystem::temp_directory_path() / ("cairn-verify-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto store = need(Store::open((dir / "verifier.db").string()), "opening the store");
  need(store.add_image(
           need(make_image_version(image.golden(), ImageState::approved, 0), "image version")),
       "loading the image");
  // The random seam records the enrollment secret (its first 32-byte draw) so this program can
  // answer the challenge without a TPM; everything else is the production path.
  Bytes secret;
  Seams seams = system_seams();
  auto system_random = seams.random;
  seams.random = [&](std::size_t size) -> Expected<Bytes> {
    auto bytes = system_random(size);
    if (bytes && size == 32 && secret.empty()) secret = *bytes;
    return bytes;
  };
  // SoftTpm has no EK certificate: the lab setting.
  VerifierService service(store, need(attest::generate_token_key(), "token key"), seams,
                          {.allow_ek_without_certificate = true});
  testing::SoftTpm tpm(7);
  tpm.boot(image);

  auto start = Clock::now();
  auto challenge = need(
      service.enroll(EnrollRequest{
          .host = "bench-host",
          .ek_public = base64_encode(std::string(tpm.ek_public().begin(), tpm.ek_public().end())),
          .ak_public = base64_encode(std::string(tpm.ak_public().begin(), tpm.ak_public().end()))}),
      "enroll");
  double enroll_ms = milliseconds_since(start);
  auto activate_start = Clock::now();
  need(service.activate(
           EnrollActivation{.enrollment = challenge.enrollment,
                            .secret = base64_encode(std::string(secret.begin(), secret.end()))}),
       "activate");
  double activate_ms = milliseconds_since(activate_start);
  auto nonce_start = Clock::now();
  auto grant = need(service.grant_nonce(NonceRequest{.host = "bench-host"}), "nonce");
  double nonce_ms = milliseconds_since(nonce_start);
  auto submission = tpm.submission("bench-host", decode(grant.nonce));  // the host's side
  auto attest_start = Clock::now();
  auto verdict = need(service.attest(submission), "attest");
  double attest_ms = milliseconds_since(attest_start);
  if (!verdict.admitted) die("the first verdict denied the host: " + to_json(verdict));
  std::filesystem::remove_all(dir);
  std::printf("enroll_ms: %.2f\nactivate_ms: %.2f\nnonce_ms: %.2f\nfirst_verdict_ms: %.2f\n",
              enroll_ms, activate_ms, nonce_ms, attest_ms);
  std::printf("enrollment_to_first_verdict_ms: %.2f\n",
              enroll_ms + activate_ms + nonce_ms + attest_ms);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  auto image = testing::SoftImage::create("kvm-host", "1.0.0");
  testing::SoftTpm tpm;
  tpm.boot(image);
  std::vector<ImageVersion> images{
      need(make_image_version(image.golden(), ImageState::approved, 0), "image version")};
  // Other approved versions, as a verifier serving a fleet mid-rollout holds them.
  for (const char* version : {"0.9.0", "0.9.1", "1.0.1"}) {
    images.push_back(
        need(make_image_version(image.next(version).golden(), ImageState::approved, 0), "image"));
  }
  auto now = std::chrono::system_clock::now();
  Bytes nonce(32);
  RAND_bytes(nonce.data(), static_cast<int>(nonce.size()));
  HostRecord host{.name = "host-a",
                  .ek_public = tpm.ek_public(),
                  .ak_public = tpm.ak_public(),
                  .ak_name = tpm.ak_name()};
  NonceRecord nonce_record{.nonce = nonce,
                           .host = "host-a",
                           .issued_at = unix_seconds(now),
                           .expires_at = unix_seconds(now + std::chrono::seconds(60))};
  auto submission = tpm.submission("host-a", nonce);
  auto token_key = need(attest::generate_token_key(), "token key");
  PolicyInput input{.submission = &submission,
                    .host = &host,
                    .nonce = &nonce_record,
                    .images = images,
                    .now = now,
                    .token_key = token_key.get()};
  Verdict verdict = verify_quote(input);
  if (!verdict.admitted || !verdict.token)
    die("the bench quote is not admitted: " + to_json(verdict));

  // The baseline: the AK signature over the same quote, the key parsed once.
  auto ak = need(cairn::attest::tpm::parse_attestation_key(host.ak_public), "AK");
  Bytes attest = decode(submission.quoted);
  Bytes signature = decode(submission.signature);
  double signatures = rate(seconds, [&] {
    if (!cairn::attest::tpm::verify_signature(ak, attest, signature))
      die("baseline signature failed");
  });
  double verifications = rate(seconds, [&] {
    if (!verify_quote(input).admitted) die("verification failed");
  });

  auto log = need(cairn::tpm::parse_event_log(decode(submission.event_log)), "event log");
  std::printf("event_log_events: %zu\n", log.events.size());
  std::printf("event_log_bytes: %zu\n", tpm.event_log().size());
  std::printf("checks_per_verdict: %zu\n", verdict.checks.size());
  std::printf("ak_signatures_per_second: %.0f\n", signatures);
  std::printf("quote_verifications_per_second: %.0f\n", verifications);
  std::printf("ratio_verification_to_signature: %.2f\n", signatures / verifications);
  enrollment_and_first_verdict(image);
  return 0;
}
