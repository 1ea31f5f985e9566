// What the verifier benchmarks that load cairn-verifier over HTTP share (bench/verify-http,
// bench/verify-fleet): soft-TPM hosts with their submission JSON prepared, clients looping
// nonce → quote → verdict on keep-alive connections, and the figures taken from them.
#pragma once

#include <chrono>
#include <latch>
#include <span>
#include <string>
#include <vector>

#include "attest/protocol.hpp"
#include "attest/verifier/store.hpp"
#include "unit/attest/soft_tpm.hpp"

namespace cairn::bench {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what);
template <class T>
T need(Expected<T> result, const std::string& what) {
  if (!result) die(what + ": " + result.error().describe());
  return std::move(*result);
}
void need(Status result, const std::string& what);

double ms_since(Clock::time_point start);
std::string encode(std::span<const std::uint8_t> bytes);
attest::verifier::Bytes decode(const std::string& text);

// A QuoteSubmission's JSON with the per-quote fields (nonce, quote, signature) left as holes:
// the ~50-event log is base64-encoded and serialized once per host, not once per quote.
class SubmissionTemplate {
 public:
  explicit SubmissionTemplate(attest::QuoteSubmission submission);
  std::string fill(const std::string& nonce, const std::string& quoted,
                   const std::string& signature) const;

 private:
  std::vector<std::string> pieces_;
  std::vector<int> order_;
};

// One soft-TPM host, booted into `image`, and its submission JSON but for the quote.
struct LoadHost {
  std::string name;
  attest::testing::SoftTpm tpm;
  SubmissionTemplate submission;
  std::string nonce_request;

  LoadHost(std::string host_name, int identity, attest::testing::AkAlgorithm ak,
           const attest::testing::SoftImage& image, int ek_identity = -1);
};

// What one client saw.
struct ClientResult {
  std::vector<double> verdict_ms;  // the /v1/attest round trip
  std::vector<double> cycle_ms;    // nonce request, quote, verdict
  long admitted = 0, denied = 0, errors = 0;
  long connections = 0;
  std::string first_problem;  // printed; the rest are only counted

  void problem(const std::string& what);
  void error(const std::string& what);
  void merge(const ClientResult& other);
};

// One client: nonce, quote, verdict on one keep-alive connection to `url`, taking `hosts` in
// turn, from when `start_gate` opens until `deadline`.
void run_client(const std::string& url, const std::string& cacert, std::span<LoadHost* const> hosts,
                std::latch& start_gate, const Clock::time_point& deadline, ClientResult& result);

// The image and three other approved versions, as a verifier serving a fleet mid-rollout holds
// them (bench/verify runs with the same four).
void approve_images(attest::verifier::Store& store, const attest::testing::SoftImage& image);

double percentile(std::vector<double>& values, double fraction);
double process_cpu_seconds();
// utime + stime of another process; -1 if unreadable.
double other_cpu_seconds(int pid);

}  // namespace cairn::bench
