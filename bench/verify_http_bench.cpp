// attest_verify_http_bench --url URL --db DB: cairn-verifier's verdicts per second over its
// HTTP(S) front, as bench/verify-http runs it against a `cairn-verifier serve` it started on DB.
// Approves a SoftImage's measurements into DB (as `cairn-verifier approve` would while serve
// runs), enrolls one soft TPM per client over HTTP (credential activation done in software),
// then every client loops nonce → quote → verdict on its own keep-alive connection for a fixed
// time. Prints "key: value" lines: the rate, latency percentiles, and the CPU the clients and
// the verifier used (they share the machine's cores, so a client-bound run says so).
#include <curl/curl.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <latch>
#include <memory>
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
#include "verify_load.hpp"

using namespace cairn;
using namespace cairn::attest;
using namespace cairn::attest::verifier;
using cairn::attest::testing::AkAlgorithm;
using cairn::attest::testing::SoftImage;
using namespace cairn::bench;

namespace {

struct Options {
  std::string url;
  std::string cacert;
  std::string db;
  int clients = 50;
  double seconds = 10;
  std::string ak = "ecc";
  int verifier_pid = 0;
};

// Enrollment over HTTP, the host's side done by the soft TPM; the problem if it failed.
std::optional<std::string> enroll(HttpClient& http, LoadHost& host) {
  auto post = [&](const std::string& path, const std::string& body) {
    auto reply = http.post(path, body);
    return testing::HttpReply{
        .status = static_cast<int>(reply.status), .body = reply.body, .error = reply.error};
  };
  return testing::enroll_soft_tpm(post, post, host.tpm, host.name);
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
  {
    auto store = need(Store::open(options.db), "opening " + options.db);
    approve_images(store, image);
  }

  // Each soft TPM's RSA EK costs ~0.1 s to generate, before anything is timed.
  auto ak = options.ak == "rsa" ? AkAlgorithm::rsa : AkAlgorithm::ecc;
  auto keys_start = Clock::now();
  std::vector<std::unique_ptr<LoadHost>> hosts;
  for (int i = 0; i < options.clients; ++i) {
    hosts.push_back(
        std::make_unique<LoadHost>("bench-host-" + std::to_string(i), 1000 + i, ak, image));
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
    threads.emplace_back([&, i] {
      LoadHost* own[] = {hosts[i].get()};
      run_client(options.url, options.cacert, own, start_gate, deadline, results[i]);
    });
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
  for (auto& result : results) all.merge(result);
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
