// attest_verify_http_bench --url URL --db DB: cairn-verifier's verdicts per second over its
// HTTP(S) front, as bench/verify-http runs it against a `cairn-verifier serve` it started on DB.
// Approves a SoftImage's measurements into DB (as `cairn-verifier approve` would while serve
// runs), enrolls one soft TPM per client over HTTP (credential activation done in software),
// then every client loops nonce → quote → verdict on its own keep-alive connection for a fixed
// time. Prints "key: value" lines: the rate, latency percentiles, and the CPU the clients and
// the verifier used (they share the machine's cores, so a client-bound run says so).
#include <curl/curl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <latch>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "attest/protocol.hpp"
#include "attest/verifier/records.hpp"
#include "attest/verifier/seams.hpp"
#include "attest/verifier/store.hpp"
#include "http_client.hpp"
#include "unit/attest/soft_enroll.hpp"
#include "unit/attest/soft_tpm.hpp"

using namespace cairn;
using namespace cairn::attest;
using namespace cairn::attest::verifier;
using cairn::attest::testing::AkAlgorithm;
using cairn::attest::testing::SoftImage;
using cairn::attest::testing::SoftTpm;
using cairn::bench::HttpClient;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "attest_verify_http_bench: %s\n", what.c_str());
  std::exit(1);
}

template <class T>
T need(Expected<T> result, const std::string& what) {
  if (!result) die(what + ": " + result.error().describe());
  return std::move(*result);
}

void need(Status result, const std::string& what) {
  if (!result) die(what + ": " + result.error().describe());
}

std::string encode(std::span<const std::uint8_t> bytes) {
  return base64_encode({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

Bytes decode(const std::string& text) {
  auto decoded = need(base64_decode(text), "base64 from the verifier");
  return {decoded.begin(), decoded.end()};
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// A QuoteSubmission's JSON with the per-quote fields (nonce, quote, signature) left as holes:
// the ~50-event log is base64-encoded and serialized once per host, not once per quote.
class SubmissionTemplate {
 public:
  explicit SubmissionTemplate(QuoteSubmission submission) {
    submission.nonce = kHoles[0];
    submission.quoted = kHoles[1];
    submission.signature = kHoles[2];
    std::string json = to_json(submission);
    std::vector<std::pair<std::size_t, int>> at;
    for (int hole = 0; hole < 3; ++hole) at.emplace_back(json.find(kHoles[hole]), hole);
    std::ranges::sort(at);
    std::size_t from = 0;
    for (auto [position, hole] : at) {
      if (position == std::string::npos) die("the submission JSON lost a field");
      pieces_.push_back(json.substr(from, position - from));
      order_.push_back(hole);
      from = position + std::strlen(kHoles[hole]);
    }
    pieces_.push_back(json.substr(from));
  }

  std::string fill(const std::string& nonce, const std::string& quoted,
                   const std::string& signature) const {
    const std::string* values[] = {&nonce, &quoted, &signature};
    std::string out = pieces_[0];
    for (std::size_t i = 0; i < order_.size(); ++i) {
      out += *values[order_[i]];
      out += pieces_[i + 1];
    }
    return out;
  }

 private:
  static constexpr const char* kHoles[3] = {"@NONCE@", "@QUOTED@", "@SIGNATURE@"};
  std::vector<std::string> pieces_;
  std::vector<int> order_;
};

struct Options {
  std::string url;
  std::string cacert;
  std::string db;
  int clients = 50;
  double seconds = 10;
  std::string ak = "ecc";
  int verifier_pid = 0;
};

QuoteSubmission boot_and_submit(SoftTpm& tpm, const SoftImage& image, const std::string& host) {
  tpm.boot(image);
  return tpm.submission(host, Bytes(32, 0));
}

// One soft TPM host, booted into the approved image, and its submission JSON but for the quote.
struct Host {
  std::string name;
  SoftTpm tpm;
  SubmissionTemplate submission;
  std::string nonce_request;

  Host(std::string host_name, int identity, AkAlgorithm ak, const SoftImage& image)
      : name(std::move(host_name)),
        tpm(identity, ak),
        submission(boot_and_submit(tpm, image, name)),
        nonce_request(to_json(NonceRequest{.host = name})) {}
};

// What one client saw.
struct ClientResult {
  std::vector<double> verdict_ms;  // the /v1/attest round trip
  std::vector<double> cycle_ms;    // nonce request, quote, verdict
  long admitted = 0, denied = 0, errors = 0;
  long connections = 0;
  std::string first_problem;  // printed; the rest are only counted

  void problem(const std::string& what) {
    if (first_problem.empty()) first_problem = what;
  }
  void error(const std::string& what) {
    ++errors;
    problem(what);
  }
};

std::string describe(const std::string& what, const HttpClient::Reply& reply) {
  if (!reply.error.empty()) return what + ": " + reply.error;
  return what + ": HTTP " + std::to_string(reply.status) + " " + reply.body.substr(0, 300);
}

// Enrollment over HTTP, the host's side done by the soft TPM; the problem if it failed.
std::optional<std::string> enroll(HttpClient& http, Host& host) {
  auto post = [&](const std::string& path, const std::string& body) {
    auto reply = http.post(path, body);
    return testing::HttpReply{
        .status = static_cast<int>(reply.status), .body = reply.body, .error = reply.error};
  };
  return testing::enroll_soft_tpm(post, post, host.tpm, host.name);
}

// One client: nonce, quote, verdict, on one keep-alive connection, until the deadline.
void run_client(const Options& options, Host& host, std::latch& start_gate,
                const Clock::time_point& deadline, ClientResult& result) {
  HttpClient http(options.url, options.cacert);
  start_gate.wait();
  while (Clock::now() < deadline) {
    auto cycle_start = Clock::now();
    auto granted = http.post("/v1/nonce", host.nonce_request);
    if (granted.status != 200) {
      result.error(describe("nonce", granted));
      continue;
    }
    auto grant = parse_NonceGrant(granted.body);
    if (!grant) {
      result.error("NonceGrant: " + grant.error().describe());
      continue;
    }
    auto quote = host.tpm.quote(decode(grant->nonce));
    auto body = host.submission.fill(grant->nonce, encode(quote.attest), encode(quote.signature));
    auto verdict_start = Clock::now();
    auto reply = http.post("/v1/attest", body);
    double verdict_ms = ms_since(verdict_start);
    if (reply.status != 200) {
      result.error(describe("attest", reply));
      continue;
    }
    auto verdict = nlohmann::json::parse(reply.body, nullptr, false);
    if (!verdict.is_object() || !verdict.contains("admitted")) {
      result.error("a verdict that is not one: " + reply.body.substr(0, 300));
      continue;
    }
    if (verdict["admitted"] == true) {
      ++result.admitted;
    } else {
      ++result.denied;
      result.problem("denied: " + reply.body.substr(0, 600));
    }
    result.verdict_ms.push_back(verdict_ms);
    result.cycle_ms.push_back(ms_since(cycle_start));
  }
  result.connections = http.connections();
}

void approve_images(const std::string& db, const SoftImage& image) {
  auto store = need(Store::open(db), "opening " + db);
  auto now = unix_seconds(std::chrono::system_clock::now());
  need(store.add_image(
           need(make_image_version(image.golden(), ImageState::approved, now), "image version")),
       "approving the image");
  // Other approved versions, as a verifier serving a fleet mid-rollout holds them (bench/verify
  // runs with the same four).
  for (const char* version : {"0.9.0", "0.9.1", "1.0.1"}) {
    need(store.add_image(need(
             make_image_version(image.next(version).golden(), ImageState::approved, now), "image")),
         "approving an image");
  }
}

double percentile(std::vector<double>& values, double fraction) {
  if (values.empty()) return 0;
  std::ranges::sort(values);
  auto index = static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// utime + stime of another process, from /proc/PID/stat (fields 14 and 15); -1 if unreadable.
double other_cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  auto paren = text.rfind(')');
  if (pid <= 0 || paren == std::string::npos) return -1;
  std::istringstream fields(text.substr(paren + 2));  // from field 3 (state) on
  std::string field;
  double ticks = 0;
  for (int number = 3; number <= 15 && fields >> field; ++number) {
    if (number >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"verdicts per second through cairn-verifier's HTTP(S) front (bench/verify-http)"};
  Options options;
  app.add_option("--url", options.url, "the verifier, e.g. https://127.0.0.1:8740")->required();
  app.add_option("--db", options.db, "the database it serves (an image is approved into it)")
      ->required();
  app.add_option("--cacert", options.cacert, "CA certificate the verifier's TLS cert chains to");
  app.add_option("--clients", options.clients, "concurrent clients, one host each")
      ->check(CLI::Range(1, 1000));
  app.add_option("--seconds", options.seconds, "length of the load phase")
      ->check(CLI::Range(0.5, 600.0));
  app.add_option("--ak", options.ak, "the soft TPMs' AK: ecc (cheap to sign) or rsa")
      ->check(CLI::IsMember({"ecc", "rsa"}));
  app.add_option("--verifier-pid", options.verifier_pid, "to report the verifier's CPU time");
  CLI11_PARSE(app, argc, argv);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  auto image = SoftImage::create("kvm-host", "1.0.0");
  approve_images(options.db, image);

  // Each soft TPM's RSA EK costs ~0.1 s to generate, before anything is timed.
  auto ak = options.ak == "rsa" ? AkAlgorithm::rsa : AkAlgorithm::ecc;
  auto keys_start = Clock::now();
  std::vector<std::unique_ptr<Host>> hosts;
  for (int i = 0; i < options.clients; ++i) {
    hosts.push_back(std::make_unique<Host>("bench-host-" + std::to_string(i), 1000 + i, ak, image));
  }
  double keys_s = ms_since(keys_start) / 1000;
  // Enrolled one after the other on one connection: the figure is the verifier's latency.
  std::vector<double> enroll_ms;
  {
    HttpClient http(options.url, options.cacert);
    for (auto& host : hosts) {
      auto start = Clock::now();
      if (auto problem = enroll(http, *host)) die(host->name + ": " + *problem);
      enroll_ms.push_back(ms_since(start));
    }
  }

  auto clients = static_cast<std::size_t>(options.clients);
  std::vector<ClientResult> results(clients);
  std::latch start_gate(1);
  Clock::time_point deadline;
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < clients; ++i) {
    threads.emplace_back(run_client, std::cref(options), std::ref(*hosts[i]), std::ref(start_gate),
                         std::cref(deadline), std::ref(results[i]));
  }
  double client_cpu = process_cpu_seconds();
  double verifier_cpu = other_cpu_seconds(options.verifier_pid);
  auto start = Clock::now();
  deadline = start + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(options.seconds));
  start_gate.count_down();
  for (auto& thread : threads) thread.join();
  double elapsed = ms_since(start) / 1000;
  client_cpu = process_cpu_seconds() - client_cpu;
  if (verifier_cpu >= 0) verifier_cpu = other_cpu_seconds(options.verifier_pid) - verifier_cpu;

  ClientResult all;
  for (auto& result : results) {
    all.verdict_ms.insert(all.verdict_ms.end(), result.verdict_ms.begin(), result.verdict_ms.end());
    all.cycle_ms.insert(all.cycle_ms.end(), result.cycle_ms.begin(), result.cycle_ms.end());
    all.admitted += result.admitted;
    all.denied += result.denied;
    all.errors += result.errors;
    all.connections += result.connections;
    if (all.first_problem.empty()) all.first_problem = result.first_problem;
  }
  auto verdicts = static_cast<double>(all.verdict_ms.size());
  std::printf("clients: %d\nak: %s\nkeys_seconds: %.1f\n", options.clients, options.ak.c_str(),
              keys_s);
  std::printf("enroll_ms_p50: %.1f\nenroll_ms_max: %.1f\n", percentile(enroll_ms, 0.5),
              percentile(enroll_ms, 1.0));
  std::printf("seconds: %.2f\nverdicts: %.0f\nadmitted: %ld\ndenied: %ld\nerrors: %ld\n", elapsed,
              verdicts, all.admitted, all.denied, all.errors);
  std::printf("connections: %ld\n", all.connections);
  std::printf("verdicts_per_second: %.0f\n", verdicts / elapsed);
  std::printf("verdict_ms_p50: %.1f\nverdict_ms_p99: %.1f\nverdict_ms_max: %.1f\n",
              percentile(all.verdict_ms, 0.5), percentile(all.verdict_ms, 0.99),
              percentile(all.verdict_ms, 1.0));
  std::printf("cycle_ms_p50: %.1f\ncycle_ms_p99: %.1f\ncycle_ms_max: %.1f\n",
              percentile(all.cycle_ms, 0.5), percentile(all.cycle_ms, 0.99),
              percentile(all.cycle_ms, 1.0));
  std::printf("client_cpu_cores: %.2f\n", client_cpu / elapsed);
  if (verifier_cpu >= 0) {
    std::printf("verifier_cpu_cores: %.2f\n", verifier_cpu / elapsed);
    if (verifier_cpu > 0) {
      std::printf("verdicts_per_verifier_cpu_second: %.0f\n", verdicts / verifier_cpu);
    }
  }
  if (!all.first_problem.empty()) {
    std::fprintf(stderr, "attest_verify_http_bench: first problem: %s\n",
                 all.first_problem.c_str());
  }
  curl_global_cleanup();
  return all.errors == 0 && all.denied == 0 ? 0 : 2;
}
