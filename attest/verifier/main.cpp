// cairn-verifier: admits hosts whose TPM quotes show an approved Cairn image (HTTP+JSON
// service), and the operator's commands around it: approve/revoke image versions, list and
// remove hosts, check a submission offline.
#include <signal.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <thread>

#include "attest/token.hpp"
#include "attest/verifier/admin.hpp"
#include "attest/verifier/service.hpp"
#include "common/cli_errors.hpp"
#include "common/cli_parse.hpp"
#include "common/fs.hpp"
#include "common/pki.hpp"

namespace {

using namespace cairn;
using namespace cairn::attest;
using namespace cairn::attest::verifier;
namespace fs = std::filesystem;

constexpr int kExitDenied = 6;
constexpr const char* kProgram = "cairn-verifier";

Expected<Store> open_store(const std::string& db) {
  if (!sql::is_postgresql_location(db)) {
    std::error_code ignored;
    if (fs::path file(db); file.has_parent_path())
      fs::create_directories(file.parent_path(), ignored);
  }
  return Store::open(db);
}

// The token key: created (P-256, mode 0600) on first use, so a fresh verifier just starts.
Expected<EvpPkeyPtr> load_token_key(const fs::path& path) {
  std::error_code error;
  if (fs::exists(path, error)) return read_private_key_pem(path);
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), error);
  auto key = CAIRN_TRY(generate_token_key());
  CAIRN_CHECK(write_private_key_pem(path, key.get()));
  return key;
}

struct ServeOptions {
  fs::path key_path;
  std::string listen = "127.0.0.1:8740";
  std::optional<fs::path> ek_ca;
  bool allow_ek_without_certificate = false;
  int nonce_seconds = 60;
  std::optional<fs::path> tls_cert, tls_key, client_ca;
  bool insecure_http = false;
};

// What serve would listen on, and how; Errc::invalid_input for a combination that makes no
// sense or would expose the service.
Expected<std::pair<ListenAddress, std::optional<TlsFiles>>> serving_plan(const ServeOptions& o) {
  auto address = CAIRN_TRY(parse_listen_address(o.listen));
  if (o.tls_cert.has_value() != o.tls_key.has_value()) {
    return fail(Errc::invalid_input, "--tls-cert and --tls-key go together");
  }
  std::optional<TlsFiles> tls;
  if (o.tls_cert) {
    tls = TlsFiles{.certificate = *o.tls_cert, .key = *o.tls_key, .client_ca = o.client_ca};
  } else if (o.client_ca) {
    return fail(Errc::invalid_input, "--client-ca needs --tls-cert and --tls-key");
  } else if (!address.loopback && !o.insecure_http) {
    return fail(Errc::invalid_input,
                "plain HTTP on " + address.text() +
                    " would carry quotes and admission tokens in clear: give --tls-cert and "
                    "--tls-key, listen on loopback, or pass --insecure-http");
  }
  if (!o.ek_ca && !o.allow_ek_without_certificate) {
    return fail(Errc::invalid_input,
                "serve needs --ek-ca DIR (the CA real TPMs' EK certificates chain to), or "
                "--allow-ek-without-certificate for a lab: otherwise any TPM, software ones "
                "included, could enroll");
  }
  return std::pair{address, tls};
}

int serve(Store& store, const ServeOptions& o, ListenAddress address,
          const std::optional<TlsFiles>& tls) {
  // SIGINT/SIGTERM go to one thread that stops the server; the front's threads never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto key = load_token_key(o.key_path);
  if (!key) return report_error(kProgram, key.error(), false);
  ServiceOptions options{
      .nonce_lifetime = std::chrono::seconds(o.nonce_seconds),
      .ek_ca = o.ek_ca,
      .allow_ek_without_certificate = o.allow_ek_without_certificate,
      .log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }};
  VerifierService service(store, std::move(*key), system_seams(), std::move(options));
  auto bound = service.bind(address, tls);
  if (!bound) return report_error(kProgram, bound.error(), false);
  address.port = *bound;
  std::fprintf(
      stderr, "cairn-verifier: listening on %s (%s)\n", address.text().c_str(),
      tls ? (tls->client_ca ? "https, client certificates required" : "https") : "plain http");
  std::thread stopper([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    service.stop();
  });
  auto served = service.listen();
  pthread_kill(stopper.native_handle(), SIGTERM);  // when listen() ended on its own
  stopper.join();
  return served ? 0 : report_error(kProgram, served.error(), false);
}

void print_verdict(const Verdict& verdict) {
  std::printf("%s: %s%s\n", verdict.host.c_str(), verdict.admitted ? "admitted" : "DENIED",
              verdict.image_version ? (" (" + *verdict.image_version + ")").c_str() : "");
  for (const auto& check : verdict.checks) {
    std::printf("  %-4s %-20s %s\n", check.passed ? "ok" : "FAIL", check.name.c_str(),
                check.detail.c_str());
  }
}

int list_versions(Store& store, bool json) {
  auto images = store.list_images();
  if (!images) return report_error(kProgram, images.error(), json);
  if (json) {
    auto out = nlohmann::json::array();
    for (const auto& image : *images) out.push_back(to_json_value(image));
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (const auto& image : *images) {
    std::printf("%-16s %-12s %-9s %s  uki %.16s…\n", image.measurements.name.c_str(),
                image.measurements.version.c_str(),
                std::string(image_state_name(image.state)).c_str(),
                iso8601_utc(image.loaded_at).c_str(), image.measurements.uki_authenticode.c_str());
  }
  return 0;
}

int list_hosts(Store& store, bool json) {
  auto hosts = store.list_hosts();
  if (!hosts) return report_error(kProgram, hosts.error(), json);
  if (json) {
    auto out = nlohmann::json::array();
    for (const auto& host : *hosts) out.push_back(to_json_value(host));
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (const auto& host : *hosts) {
    std::string last = "none";
    if (const auto& verdict = host.last_verdict) {
      last = std::string(verdict_result_name(verdict->admitted)) + " " + iso8601_utc(verdict->at);
      if (!verdict->image_version.empty()) last += " (" + verdict->image_version + ")";
    }
    std::printf("%-24s EK %.16s…  enrolled %s  last resetCount %s  last verdict %s\n",
                host.name.c_str(), host.ek_sha256.c_str(), iso8601_utc(host.enrolled_at).c_str(),
                host.last_reset_count ? std::to_string(*host.last_reset_count).c_str() : "-",
                last.c_str());
  }
  return 0;
}

int ok(bool json, nlohmann::json out, const std::string& text) {
  if (json) {
    out["ok"] = true;
    std::cout << out.dump(2) << "\n";
  } else {
    std::printf("%s\n", text.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cairn-verifier: admit hosts whose TPM quotes show an approved Cairn image"};
  app.require_subcommand(1);
  app.fallthrough();
  bool json = false;
  app.add_flag("--json", json, "print results as JSON on stdout");
  std::string db = "/var/lib/cairn-verifier/verifier.db";
  app.add_option("--db", db,
                 "the verifier's database: an SQLite file, or postgresql://… shared by replicas")
      ->capture_default_str();
  fs::path key_path = "/var/lib/cairn-verifier/token-key.pem";
  auto add_key_option = [&](CLI::App* command) {
    command->add_option("--token-key", key_path, "admission token signing key (PEM, 0600)")
        ->capture_default_str();
  };

  auto* serve_cmd = app.add_subcommand("serve", "serve the HTTP(S)+JSON attestation endpoints");
  ServeOptions serve_options;
  serve_cmd
      ->add_option("--listen", serve_options.listen,
                   "ADDRESS:PORT to listen on ([ADDRESS]:PORT for IPv6; port 0: any free one)")
      ->capture_default_str();
  add_key_option(serve_cmd);
  serve_cmd->add_option("--ek-ca", serve_options.ek_ca,
                        "CA certificates EK certificates must chain to");
  serve_cmd->add_flag("--allow-ek-without-certificate", serve_options.allow_ek_without_certificate,
                      "enroll TPMs that show no EK certificate (a lab; each one is logged)");
  serve_cmd
      ->add_option("--nonce-lifetime", serve_options.nonce_seconds, "seconds a nonce stays valid")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  serve_cmd->add_option("--tls-cert", serve_options.tls_cert,
                        "serve HTTPS: certificate chain (PEM)");
  serve_cmd->add_option("--tls-key", serve_options.tls_key, "serve HTTPS: private key (PEM)");
  serve_cmd->add_option("--client-ca", serve_options.client_ca,
                        "require client certificates chaining to these CAs (PEM)");
  serve_cmd->add_flag("--insecure-http", serve_options.insecure_http,
                      "allow plain HTTP on an address other than loopback");

  auto* key_cmd = app.add_subcommand("token-key", "create the token key if missing");
  add_key_option(key_cmd);
  bool show = false;
  key_cmd->add_flag("--show", show, "print its public key (PEM), which token checkers need");

  auto* approve_cmd =
      app.add_subcommand("approve", "approve an image version from its signed measurements.json");
  fs::path measurements, signature, trust;
  approve_cmd->add_option("measurements", measurements, "measurements.json")->required();
  approve_cmd->add_option("--signature", signature, "detached CMS signature (default: FILE.sig)");
  approve_cmd->add_option("--trust", trust, "trust anchors (file or directory)")->required();

  auto* revoke_cmd = app.add_subcommand("revoke", "revoke an image version (final)");
  std::string name, version;
  revoke_cmd->add_option("name", name, "image name")->required();
  revoke_cmd->add_option("version", version, "image version")->required();

  auto* versions_cmd = app.add_subcommand("versions", "list approved and revoked image versions");
  auto* hosts_cmd = app.add_subcommand("hosts", "list enrolled hosts");
  auto* remove_cmd = hosts_cmd->add_subcommand("remove", "forget a host (it must enroll again)");
  std::string host_name;
  remove_cmd->add_option("name", host_name, "host name")->required();

  auto* check_cmd = app.add_subcommand("check", "run the policy on a saved submission, offline");
  fs::path submission_path;
  std::string nonce;
  check_cmd->add_option("submission", submission_path, "QuoteSubmission JSON")->required();
  check_cmd->add_option("--nonce", nonce, "the nonce it was quoted with (base64)")->required();

  add_version_flag(app, "cairn-verifier");
  if (auto code = parse_command_line(app, "cairn-verifier", argc, argv)) return *code;

  if (key_cmd->parsed()) {
    auto key = load_token_key(key_path);
    if (!key) return report_error(kProgram, key.error(), json);
    if (!show) return ok(json, {{"token_key", key_path.string()}}, key_path.string());
    auto pem = public_key_pem(key->get());
    if (!pem) return report_error(kProgram, pem.error(), json);
    if (json) return ok(json, {{"public_key_pem", *pem}}, "");
    std::fputs(pem->c_str(), stdout);
    return 0;
  }
  std::optional<std::pair<ListenAddress, std::optional<TlsFiles>>> serving;
  if (serve_cmd->parsed()) {  // checked before the database is touched
    auto plan = serving_plan(serve_options);
    if (!plan) return report_error(kProgram, plan.error(), json);
    serving = std::move(*plan);
  }
  auto store = open_store(db);
  if (!store) return report_error(kProgram, store.error(), json);
  auto now = std::chrono::system_clock::now();
  if (serving) {
    serve_options.key_path = key_path;
    return serve(*store, serve_options, serving->first, serving->second);
  }
  if (approve_cmd->parsed()) {
    if (signature.empty()) signature = measurements.string() + ".sig";
    auto image = approve_measurements(*store, measurements, signature, trust, now);
    if (!image) return report_error(kProgram, image.error(), json);
    return ok(json, to_json_value(*image), "approved " + image->label());
  }
  if (revoke_cmd->parsed()) {
    auto revoked = store->revoke_image(name, version);
    if (!revoked) return report_error(kProgram, revoked.error(), json);
    return ok(json, {{"name", name}, {"version", version}, {"state", "revoked"}},
              "revoked " + name + " " + version);
  }
  if (versions_cmd->parsed()) return list_versions(*store, json);
  if (remove_cmd->parsed()) {
    auto removed = store->remove_host(host_name);
    if (!removed) return report_error(kProgram, removed.error(), json);
    if (!*removed) {
      return report_error(kProgram, Error(Errc::not_found, "no host " + host_name + " enrolled"),
                          json);
    }
    return ok(json, {{"removed", host_name}}, "removed " + host_name);
  }
  if (hosts_cmd->parsed()) return list_hosts(*store, json);
  if (check_cmd->parsed()) {
    auto text = read_file(submission_path);
    if (!text) return report_error(kProgram, text.error(), json);
    auto submission = parse_QuoteSubmission(*text);
    if (!submission) return report_error(kProgram, submission.error(), json);
    auto verdict = check_offline(*store, *submission, nonce, now);
    if (!verdict) return report_error(kProgram, verdict.error(), json);
    if (json) {
      std::cout << to_json(*verdict) << "\n";
    } else {
      print_verdict(*verdict);
    }
    return verdict->admitted ? 0 : kExitDenied;
  }
  return 1;
}
