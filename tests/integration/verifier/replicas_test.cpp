// Two cairn-verifier replicas serving one fleet from one PostgreSQL 15 database, and 200 hosts on
// software TPMs talking to whichever replica: an enrollment begun on one and finished on the
// other, nonces granted by one and spent on the other, one quote sent to both at once admitted
// once, one EK enrolled once, a revocation through a third process holding on both at once.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <future>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "attest/protocol.hpp"
#include "attest/verifier/store.hpp"
#include "common/fs.hpp"
#include "common/process.hpp"
#include "fleet/attested_hosts.hpp"
#include "fleet/channel_repo.hpp"
#include "fleet/etcd_client.hpp"
#include "fleet/fleet_store.hpp"
#include "support/background_process.hpp"
#include "support/etcd_server.hpp"
#include "support/postgres_server.hpp"
#include "support/require.hpp"
#include "unit/attest/soft_enroll.hpp"
#include "unit/attest/soft_tpm.hpp"
#include "unit/common/bundle_pki.hpp"
#include "unit/fleet/sample_bundle.hpp"

using namespace cairn;
using namespace cairn::attest;
using namespace cairn::attest::verifier;
using cairn::attest::testing::AkAlgorithm;
using cairn::attest::testing::HttpReply;
using cairn::attest::testing::SoftImage;
using cairn::attest::testing::SoftTpm;
using cairn::testing::BackgroundProcess;
using cairn::testing::PostgresServer;

namespace {

namespace fs = std::filesystem;
constexpr int kHosts = 200;

// PostgreSQL 15 with one database, where image kvm-host 1.0.0 is approved (as `cairn-verifier
// approve` would do it).
struct FleetDatabase {
  PostgresServer server;
  std::string url;
  SoftImage image = SoftImage::create("kvm-host", "1.0.0");

  static FleetDatabase start(std::string_view name) {
    auto server = PostgresServer::start();
    if (!server) FAIL(server.error().describe());
    auto url = server->create_database(name).value();
    FleetDatabase db{.server = std::move(*server), .url = std::move(url)};
    auto store = Store::open(db.url).value();
    REQUIRE(
        store.add_image(make_image_version(db.image.golden(), ImageState::approved, 1).value()));
    return db;
  }
};

// One `cairn-verifier serve` on a loopback port.
struct Replica {
  BackgroundProcess process;
  int port = 0;
  fs::path log;

  HttpReply post(const std::string& path, const std::string& body) const {
    return reply_of(client().Post(path, body, "application/json"));
  }
  HttpReply get(const std::string& path) const { return reply_of(client().Get(path)); }

 private:
  httplib::Client client() const {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(5);
    client.set_read_timeout(30);
    return client;
  }
  static HttpReply reply_of(const httplib::Result& result) {
    if (!result) return {.error = httplib::to_string(result.error())};
    return {.status = result->status, .body = result->body};
  }
};

Replica start_replica(const std::string& url, const fs::path& dir, const std::string& name) {
  auto log = dir / (name + ".log");
  auto process = BackgroundProcess::start(
      {CAIRN_VERIFIER, "--db", url, "serve", "--listen", "127.0.0.1:0", "--token-key",
       (dir / "token-key.pem").string(), "--allow-ek-without-certificate"},
      log);
  REQUIRE(process.has_value());
  static const std::regex kListening("listening on 127\\.0\\.0\\.1:([0-9]+)");
  for (int i = 0; i < 300; ++i) {
    std::smatch match;
    auto text = read_file(log).value_or("");
    if (std::regex_search(text, match, kListening)) {
      return Replica{.process = std::move(*process), .port = std::stoi(match[1]), .log = log};
    }
    REQUIRE(process->running());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL(name + " did not start listening: " + read_file(log).value_or(""));
  throw;  // not reached
}

// What a verifier CLI run printed and how it ended.
ProcessResult run_verifier(const std::vector<std::string>& arguments) {
  std::vector<std::string> argv{CAIRN_VERIFIER};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  SystemProcessRunner runner;
  auto result = runner.run({.argv = argv, .capture_stdout = true});
  REQUIRE(result.has_value());
  return *result;
}

// A nonce from `granter`, the host's quote over it (the submission's JSON).
std::string quote_from(const Replica& granter, SoftTpm& tpm, const std::string& host) {
  auto granted = granter.post("/v1/nonce", to_json(NonceRequest{.host = host}));
  REQUIRE(granted.status == 200);
  auto grant = parse_NonceGrant(granted.body).value();
  auto nonce = base64_decode(grant.nonce).value();
  return to_json(tpm.submission(host, Bytes(nonce.begin(), nonce.end())));
}

Verdict verdict_of(const HttpReply& reply) {
  INFO(reply.error << " " << reply.body.substr(0, 400));
  REQUIRE(reply.status == 200);
  return parse_Verdict(reply.body).value();
}

std::string failed_checks(const Verdict& verdict) {
  std::string out;
  for (const auto& check : verdict.checks) {
    if (!check.passed) out += check.name + ": " + check.detail + "; ";
  }
  return out;
}

}  // namespace

TEST_CASE("two verifier replicas on one PostgreSQL serve 200 soft-TPM hosts as one verifier",
          "[integration][replicas]") {
  auto fleet_db = FleetDatabase::start("fleet");
  const auto& url = fleet_db.url;
  const auto& image = fleet_db.image;
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-replicas-").value();
  // One after the other: the first creates the token key both sign admissions with.
  auto a = start_replica(url, dir.path(), "replica-a");
  auto b = start_replica(url, dir.path(), "replica-b");
  std::array<const Replica*, 2> replicas{&a, &b};

  std::vector<std::unique_ptr<SoftTpm>> tpms;
  for (int i = 0; i < kHosts; ++i) {
    tpms.push_back(std::make_unique<SoftTpm>(7000 + i, AkAlgorithm::ecc));
    tpms.back()->boot(image);
  }
  auto name = [](int i) { return "host-" + std::to_string(i); };
  auto on = [&](int i) -> const Replica& { return *replicas[static_cast<std::size_t>(i % 2)]; };
  auto other = [&](int i) -> const Replica& {
    return *replicas[static_cast<std::size_t>((i + 1) % 2)];
  };
  auto post_to = [](const Replica& replica) {
    return [&replica](const std::string& path, const std::string& body) {
      return replica.post(path, body);
    };
  };

  // Enrollment begun on one replica, its credential activated on the other.
  for (int i = 0; i < kHosts; ++i) {
    auto problem = attest::testing::enroll_soft_tpm(post_to(on(i)), post_to(other(i)),
                                                    *tpms[static_cast<std::size_t>(i)], name(i));
    if (problem) FAIL(name(i) + ": " + *problem);
  }
  // Nonces granted by one replica, spent on the other; the replay on the first is denied.
  for (int i = 0; i < kHosts; ++i) {
    auto submission = quote_from(on(i), *tpms[static_cast<std::size_t>(i)], name(i));
    auto admitted = verdict_of(other(i).post("/v1/attest", submission));
    INFO(name(i) << ": " << failed_checks(admitted));
    REQUIRE(admitted.admitted);
    auto replayed = verdict_of(on(i).post("/v1/attest", submission));
    CHECK_FALSE(replayed.admitted);
    CHECK(replayed.checks.front().name == "nonce-unused");
  }
  // One quote sent to both replicas at the same moment: admitted once, whichever wins.
  int admitted_once = 0;
  for (int i = 0; i < 40; ++i) {
    auto submission = quote_from(on(i), *tpms[static_cast<std::size_t>(i)], name(i));
    auto first = std::async(std::launch::async, [&] { return a.post("/v1/attest", submission); });
    auto second = std::async(std::launch::async, [&] { return b.post("/v1/attest", submission); });
    int admitted = verdict_of(first.get()).admitted + verdict_of(second.get()).admitted;
    INFO(name(i));
    CHECK(admitted == 1);
    admitted_once += admitted == 1;
  }
  CHECK(admitted_once == 40);
  // An EK enrolled under a second name is refused, on either replica.
  for (const Replica* replica : replicas) {
    auto problem = attest::testing::enroll_soft_tpm(post_to(*replica), post_to(*replica), *tpms[0],
                                                    "impostor");
    REQUIRE(problem.has_value());
    CHECK_THAT(*problem, Catch::Contains("403") && Catch::Contains("enrolled as host host-0"));
  }
  // Both replicas list the fleet's history alike.
  auto listed_a = nlohmann::json::parse(a.get("/v1/versions/kvm-host/1.0.0/hosts").body);
  auto listed_b = nlohmann::json::parse(b.get("/v1/versions/kvm-host/1.0.0/hosts").body);
  CHECK(listed_a["hosts"].size() == kHosts);
  CHECK(listed_a == listed_b);

  // What `cairn-fleet promote --attested` asks: the staging hosts current on the version.
  std::vector<fleet::HostRecord> fleet_hosts;
  for (int i = 0; i < 5; ++i) {
    fleet_hosts.push_back({.id = "m" + std::to_string(i),
                           .channel = i < 4 ? "staging" : "stable",
                           .hostname = name(i)});
  }
  fleet_hosts.push_back({.id = "m-unknown", .channel = "staging", .hostname = "never-enrolled"});
  auto attested = fleet::fetch_attested_hosts({.url = "http://127.0.0.1:" + std::to_string(b.port)},
                                              "kvm-host", "1.0.0");
  if (!attested) FAIL(attested.error().describe());
  CHECK(attested->state == "approved");
  CHECK(attested->current.size() == kHosts);
  CHECK(fleet::attested_followers(fleet_hosts, "staging", *attested).size() == 4);
  auto unknown = fleet::fetch_attested_hosts({.url = "http://127.0.0.1:" + std::to_string(a.port)},
                                             "kvm-host", "9.9.9");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code() == Errc::not_found);

  // A revocation through the CLI, a third process: both replicas deny at once.
  auto revoked = run_verifier({"--db", url, "revoke", "kvm-host", "1.0.0"});
  INFO(revoked.stderr_tail);
  REQUIRE(revoked.exit_code == 0);
  for (int i = 0; i < 10; ++i) {
    auto verdict = verdict_of(other(i).post(
        "/v1/attest", quote_from(on(i), *tpms[static_cast<std::size_t>(i)], name(i))));
    CHECK_FALSE(verdict.admitted);
    CHECK_THAT(failed_checks(verdict), Catch::Contains("revoked"));
  }
  auto after = fleet::fetch_attested_hosts({.url = "http://127.0.0.1:" + std::to_string(a.port)},
                                           "kvm-host", "1.0.0");
  REQUIRE(after.has_value());
  CHECK(after->state == "revoked");  // promotion refuses it, whatever the count
  CHECK(a.process.running());
  CHECK(b.process.running());
}

TEST_CASE("a replica given a database it cannot use says why and exits",
          "[integration][replicas]") {
  auto server = PostgresServer::start();
  if (!server) FAIL(server.error().describe());
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-replicas-").value();
  auto serve = [&](const std::string& url) {
    return run_verifier({"--db", url, "serve", "--listen", "127.0.0.1:0", "--token-key",
                         (dir.path() / "key.pem").string(), "--allow-ek-without-certificate"});
  };
  // A database that does not exist (and a password that must not be printed).
  auto gone =
      serve("postgresql://cairn:hunter2@127.0.0.1:" + std::to_string(server->port()) + "/missing");
  CHECK(gone.exit_code != 0);
  CHECK_THAT(gone.stderr_tail, Catch::Contains("database \"missing\" does not exist"));
  CHECK_THAT(gone.stderr_tail, !Catch::Contains("hunter2"));
  // A schema newer than the binary.
  auto url = server->create_database("newer").value();
  REQUIRE(Store::open(url).has_value());
  REQUIRE(server->psql("newer", "UPDATE schema_version SET version = 7"));
  auto newer = serve(url);
  CHECK(newer.exit_code != 0);
  CHECK_THAT(newer.stderr_tail, Catch::Contains("schema version 7 is newer than this"));
  // The server gone altogether.
  REQUIRE(server->stop());
  auto down = serve(url);
  CHECK(down.exit_code != 0);
  CHECK_THAT(down.stderr_tail, Catch::Contains("cannot be reached"));
}

// Issue 22's promotion on attested evidence as an operator runs it: one `cairn-fleet promote
// --attested` against a real etcd (the hosts' own reports) and a real verifier (their TPMs').
TEST_CASE("cairn-fleet promote --attested counts the staging hosts the verifier admitted",
          "[integration][replicas][promote]") {
  auto fleet_db = FleetDatabase::start("promote");
  const auto& url = fleet_db.url;
  const auto& image = fleet_db.image;
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-promote-").value();
  auto verifier = start_replica(url, dir.path(), "verifier");
  auto post = [&verifier](const std::string& path, const std::string& body) {
    return verifier.post(path, body);
  };
  // Five staging hosts committed 1.0.0 by their own word; three of them also attest on it.
  constexpr int kStaging = 5, kAttesting = 3;
  auto etcd = cairn::testing::EtcdServer::start();
  if (!etcd) FAIL(etcd.error().describe());
  auto fleet_store =
      fleet::etcd_fleet_store(fleet::EtcdClient::open(etcd->endpoint()).value(), "itest");
  for (int i = 0; i < kStaging; ++i) {
    std::string id = "m" + std::to_string(i), host = "hv-" + std::to_string(i);
    cairn::testing::require(fleet_store->put_host({.id = id,
                                                   .group = "default",
                                                   .channel = "staging",
                                                   .machine_class = "x86_64-t",
                                                   .hostname = host,
                                                   .version = "1.0.0",
                                                   .phase = "committed",
                                                   .message = "up to date (1.0.0, serial 1)",
                                                   .updated = "2026-12-05T19:00:00Z"}));
    cairn::testing::require(fleet_store->put_outcome(
        "1.0.0", {.host = id, .from_version = "0.9.0", .to_version = "1.0.0"}));
    if (i >= kAttesting) continue;
    SoftTpm tpm(7500 + i, AkAlgorithm::ecc);
    tpm.boot(image);
    auto problem = attest::testing::enroll_soft_tpm(post, post, tpm, host);
    if (problem) FAIL(host + ": " + *problem);
    REQUIRE(verdict_of(verifier.post("/v1/attest", quote_from(verifier, tpm, host))).admitted);
  }
  // The channel repository: 1.0.0 of kvm-host in staging, signed with the keys promote uses.
  cairn::testing::BundlePki pki;
  auto signer = pki.signer();
  auto trust = pki.verifier();
  fs::path repo = dir.path() / "repo";
  REQUIRE(fleet::publish_bundle(
      {.repo = repo,
       .channel = "staging",
       .bundle =
           fleet::testing::write_sample_bundle(dir.path() / "bundle", "kvm-host", "1.0.0", signer),
       .now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())},
      signer, trust));
  auto promote = [&](int attested, const std::string& to) {
    std::vector<std::string> argv{CAIRN_FLEET,
                                  "--store",
                                  etcd->endpoint(),
                                  "--fleet",
                                  "itest",
                                  "promote",
                                  "1.0.0",
                                  "--from",
                                  "staging",
                                  "--to",
                                  to,
                                  "--repo",
                                  repo.string(),
                                  "--keys",
                                  pki.dir.path().string(),
                                  "--min-hosts",
                                  "3",
                                  "--attested",
                                  std::to_string(attested),
                                  "--verifier",
                                  "http://127.0.0.1:" + std::to_string(verifier.port),
                                  "--image",
                                  "kvm-host"};
    SystemProcessRunner runner;
    auto result = runner.run({.argv = argv, .capture_stdout = true});
    REQUIRE(result.has_value());
    return *result;
  };

  // Five committed, three attested: four attested are asked for, so no promotion.
  auto refused = promote(4, "stable");
  INFO(refused.stderr_tail);
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.stderr_tail, Catch::Contains("3 of them attested on kvm-host 1.0.0") &&
                                      Catch::Contains("at least 4 needed"));
  CHECK_FALSE(fs::exists(repo / "channels/stable.json"));
  // Three asked for: promoted, the index of stable names 1.0.0.
  auto promoted = promote(3, "stable");
  INFO(promoted.stderr_tail);
  REQUIRE(promoted.exit_code == 0);
  auto stable = fleet::read_channel(repo, "stable", trust);
  REQUIRE(stable.has_value());
  REQUIRE(stable->entries.size() == 1);
  CHECK(stable->entries[0].version == "1.0.0");
  // Revoked at the verifier: no count is enough any more.
  auto revoked = run_verifier({"--db", url, "revoke", "kvm-host", "1.0.0"});
  REQUIRE(revoked.exit_code == 0);
  auto after_revocation = promote(1, "edge");
  CHECK(after_revocation.exit_code == 1);
  CHECK_THAT(after_revocation.stderr_tail, Catch::Contains("revoked"));
  CHECK_FALSE(fs::exists(repo / "channels/edge.json"));
  CHECK(verifier.process.running());
}
