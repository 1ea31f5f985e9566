// attest_verify_fleet_bench: full verdicts per second for a fleet of soft-TPM hosts (10,000 by
// default), in one run: one cairn-verifier replica on SQLite, then two replicas on one
// PostgreSQL 15 (started here with initdb/pg_ctl, tests/support/postgres_server.hpp), the same
// hosts, clients and load. bench/verify-fleet runs it and prints the ratio against its goal.
//
// The hosts are registered in each database as enrollment leaves them (EK hash, AK public and
// name), not enrolled over HTTP one by one: credential activation needs an RSA EK per TPM, and
// 10,000 of those take ~17 minutes to generate here. The soft TPMs share one EK key and each
// record carries a host-unique EK hash. tests/integration/verifier/replicas_test.cpp enrolls
// 200 hosts through the replicas for real.
#include <curl/curl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <memory>
#include <regex>
#include <thread>

#include "attest/verifier/seams.hpp"
#include "common/fs.hpp"
#include "common/hash.hpp"
#include "support/background_process.hpp"
#include "support/postgres_server.hpp"
#include "verify_load.hpp"

using namespace cairn;
using namespace cairn::attest;
using namespace cairn::attest::verifier;
using namespace cairn::bench;
using cairn::attest::testing::AkAlgorithm;
using cairn::attest::testing::SoftImage;
using cairn::testing::BackgroundProcess;

namespace {

namespace fs = std::filesystem;

struct Options {
  int hosts = 10000;
  int clients = 40;
  double seconds = 10;
};

// The record credential activation would have written for `host`.
HostRecord record_of(const LoadHost& host, std::int64_t now) {
  auto ek = host.tpm.ek_public();
  ek.insert(ek.end(), host.name.begin(), host.name.end());  // unique per host: see the top
  return HostRecord{.name = host.name,
                    .ek_public = host.tpm.ek_public(),
                    .ek_sha256 = to_hex(sha256(ek)),
                    .ak_public = host.tpm.ak_public(),
                    .ak_name = host.tpm.ak_name(),
                    .enrolled_at = now};
}

void prepare_database(const std::string& location, const SoftImage& image,
                      const std::vector<std::unique_ptr<LoadHost>>& hosts) {
  auto store = need(Store::open(location), "opening " + sql::redact_location(location));
  approve_images(store, image);
  auto now = unix_seconds(std::chrono::system_clock::now());
  for (const auto& host : hosts) need(store.put_host(record_of(*host, now)), "registering");
}

struct Replica {
  BackgroundProcess process;
  std::string url;
};

Replica start_replica(const std::string& db, const fs::path& dir, int number) {
  auto log = dir / ("replica-" + std::to_string(number) + ".log");
  auto process =
      need(BackgroundProcess::start(
               {CAIRN_VERIFIER, "--db", db, "serve", "--listen", "127.0.0.1:0", "--token-key",
                (dir / "token-key.pem").string(), "--allow-ek-without-certificate"},
               log),
           "starting cairn-verifier");
  static const std::regex kListening("listening on (127\\.0\\.0\\.1:[0-9]+)");
  for (int i = 0; i < 600 && process.running(); ++i) {
    std::smatch match;
    auto text = read_file(log).value_or("");
    if (std::regex_search(text, match, kListening)) {
      return Replica{.process = std::move(process), .url = "http://" + match[1].str()};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  die("cairn-verifier did not start listening: " + read_file(log).value_or(""));
}

struct PhaseResult {
  double seconds = 0;
  ClientResult all;
  double client_cpu = 0, verifier_cpu = 0;
  double machine_busy = 0;  // CPU-seconds every process used, PostgreSQL's included
};

// Busy CPU-seconds of the whole machine so far (/proc/stat: all but idle and iowait).
double machine_busy_seconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  return (user + nice + system + irq + softirq + steal) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Clients spread over the replicas, each with its own share of the hosts, for `seconds`.
PhaseResult run_phase(const Options& options, const std::vector<Replica>& replicas,
                      const std::vector<std::unique_ptr<LoadHost>>& hosts) {
  auto clients = static_cast<std::size_t>(options.clients);
  std::vector<std::vector<LoadHost*>> shares(clients);
  for (std::size_t i = 0; i < hosts.size(); ++i) shares[i % clients].push_back(hosts[i].get());
  std::vector<ClientResult> results(clients);
  std::latch start_gate(1);
  Clock::time_point deadline;
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      run_client(replicas[i % replicas.size()].url, "", shares[i], start_gate, deadline,
                 results[i]);
    });
  }
  auto verifiers_cpu = [&] {
    double total = 0;
    for (const auto& replica : replicas) total += other_cpu_seconds(replica.process.pid());
    return total;
  };
  PhaseResult phase;
  phase.client_cpu = process_cpu_seconds();
  phase.verifier_cpu = verifiers_cpu();
  phase.machine_busy = machine_busy_seconds();
  auto start = Clock::now();
  deadline = start + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(options.seconds));
  start_gate.count_down();
  for (auto& thread : threads) thread.join();
  phase.seconds = ms_since(start) / 1000;
  phase.client_cpu = process_cpu_seconds() - phase.client_cpu;
  phase.verifier_cpu = verifiers_cpu() - phase.verifier_cpu;
  phase.machine_busy = machine_busy_seconds() - phase.machine_busy;
  for (auto& result : results) phase.all.merge(result);
  return phase;
}

void print_phase(const char* key, PhaseResult& phase) {
  auto& all = phase.all;
  auto verdicts = static_cast<double>(all.verdict_ms.size());
  std::printf("%s_verdicts: %.0f\n%s_admitted: %ld\n%s_denied: %ld\n%s_errors: %ld\n", key,
              verdicts, key, all.admitted, key, all.denied, key, all.errors);
  std::printf("%s_verdicts_per_second: %.0f\n", key, verdicts / phase.seconds);
  std::printf("%s_verdict_ms_p50: %.1f\n%s_verdict_ms_p99: %.1f\n", key,
              percentile(all.verdict_ms, 0.5), key, percentile(all.verdict_ms, 0.99));
  std::printf("%s_client_cpu_cores: %.2f\n%s_verifier_cpu_cores: %.2f\n", key,
              phase.client_cpu / phase.seconds, key, phase.verifier_cpu / phase.seconds);
  // Everything else that ran: PostgreSQL's backends, and whatever else shares the machine.
  std::printf("%s_machine_busy_cores: %.2f\n%s_verdicts_per_verifier_cpu_second: %.0f\n", key,
              phase.machine_busy / phase.seconds, key,
              phase.verifier_cpu > 0 ? verdicts / phase.verifier_cpu : 0.0);
  if (!all.first_problem.empty()) {
    std::fprintf(stderr, "%s: first problem: %s\n", key, all.first_problem.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"verdicts per second for a fleet: one replica on SQLite, two on PostgreSQL"};
  Options options;
  app.add_option("--hosts", options.hosts, "soft-TPM hosts registered in each database")
      ->check(CLI::Range(1, 100000));
  app.add_option("--clients", options.clients, "concurrent clients, spread over the replicas")
      ->check(CLI::Range(2, 1000));
  app.add_option("--seconds", options.seconds, "length of each load phase")
      ->check(CLI::Range(0.5, 600.0));
  CLI11_PARSE(app, argc, argv);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  auto dir = need(TempDir::create(fs::temp_directory_path(), "cairn-verify-fleet-"), "temp dir");

  auto image = SoftImage::create("kvm-host", "1.0.0");
  auto keys_start = Clock::now();
  std::vector<std::unique_ptr<LoadHost>> hosts;
  for (int i = 0; i < options.hosts; ++i) {
    hosts.push_back(std::make_unique<LoadHost>("fleet-host-" + std::to_string(i), 100000 + i,
                                               AkAlgorithm::ecc, image, /*ek_identity=*/99999));
  }
  std::printf("hosts: %d\nclients: %d\nhosts_seconds: %.1f\n", options.hosts, options.clients,
              ms_since(keys_start) / 1000);

  // One replica on SQLite.
  auto sqlite_db = (dir.path() / "verifier.db").string();
  auto register_start = Clock::now();
  prepare_database(sqlite_db, image, hosts);
  std::printf("sqlite_register_seconds: %.1f\n", ms_since(register_start) / 1000);
  PhaseResult sqlite_phase;
  {
    std::vector<Replica> replicas;
    replicas.push_back(start_replica(sqlite_db, dir.path(), 0));
    sqlite_phase = run_phase(options, replicas, hosts);
  }
  print_phase("sqlite_1", sqlite_phase);

  // Two replicas on one PostgreSQL.
  auto server = need(cairn::testing::PostgresServer::start(), "starting PostgreSQL");
  auto postgres_db = need(server.create_database("fleet"), "creating the database");
  register_start = Clock::now();
  prepare_database(postgres_db, image, hosts);
  std::printf("postgresql_register_seconds: %.1f\n", ms_since(register_start) / 1000);
  PhaseResult postgres_phase;
  {
    std::vector<Replica> replicas;
    for (int i = 1; i <= 2; ++i) replicas.push_back(start_replica(postgres_db, dir.path(), i));
    postgres_phase = run_phase(options, replicas, hosts);
  }
  print_phase("postgresql_2", postgres_phase);

  double one = static_cast<double>(sqlite_phase.all.verdict_ms.size()) / sqlite_phase.seconds;
  double two = static_cast<double>(postgres_phase.all.verdict_ms.size()) / postgres_phase.seconds;
  std::printf("ratio: %.2f\n", one > 0 ? two / one : 0.0);
  curl_global_cleanup();
  bool clean = sqlite_phase.all.errors + sqlite_phase.all.denied + postgres_phase.all.errors +
                   postgres_phase.all.denied ==
               0;
  return clean ? 0 : 2;
}
