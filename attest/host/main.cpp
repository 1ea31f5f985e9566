// cairn-attest: proves this host's boot to the Cairn verifier with its TPM, and keeps the
// admission token the libvirt hook and the health window ask for.
//
// Exit codes (scripts depend on them): 0 ok / admitted / valid token, 1 bad input or
// configuration, 3 TPM or verifier unreachable, 6 denied / no valid token.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "attest/host/agent.hpp"
#include "common/cli_errors.hpp"
#include "common/cli_parse.hpp"
#include "common/hash.hpp"

namespace {

using namespace cairn;
using namespace cairn::attest;
using namespace cairn::attest::host;
using nlohmann::json;

constexpr int kExitOk = 0;
constexpr int kExitBadInput = 1;
constexpr int kExitUnreachable = 3;
constexpr int kExitDenied = 6;

int exit_code(const Error& error) {
  switch (error.code()) {
    case Errc::invalid_input:
    case Errc::not_found:
      return kExitBadInput;
    case Errc::permission:  // the verifier refused (4xx)
    case Errc::integrity:   // the TPM refused the credential, the verifier enrolled another AK
    case Errc::crypto:
      return kExitDenied;
    default:
      return kExitUnreachable;
  }
}

int report(const Error& error, bool json_output) {
  cairn::report_error("cairn-attest", error, json_output);
  return exit_code(error);
}

struct Options {
  std::string config_file;
  std::string tcti, verifier, verifier_key, host, token, event_log, save_submission;
  bool json = false;
  bool persist = false;
};

Expected<AgentConfig> configure(const Options& options) {
  AgentConfig config =
      CAIRN_TRY(options.config_file.empty() ? load_agent_config(default_config_files())
                                            : load_agent_config_file(options.config_file));
  if (!options.tcti.empty()) config.tcti = options.tcti;
  if (!options.verifier.empty()) config.verifier_url = options.verifier;
  if (!options.verifier_key.empty()) config.verifier_key = options.verifier_key;
  if (!options.host.empty()) config.host = options.host;
  if (!options.token.empty()) config.token = options.token;
  if (!options.event_log.empty()) config.event_log = options.event_log;
  config.save_submission = options.save_submission;
  return config;
}

std::string b64(const Bytes& bytes) {
  return base64_encode(std::string(bytes.begin(), bytes.end()));
}

int run_show(const Options& options) {
  auto config = configure(options);
  if (!config) return report(config.error(), options.json);
  auto tpm = EsysAttestationTpm::open(config->tcti, false);
  if (!tpm) return report(tpm.error(), options.json);
  auto identity = (*tpm)->identity();
  if (!identity) return report(identity.error(), options.json);
  if (options.json) {
    json out{{"host", config->host},
             {"ek",
              {{"public", b64(identity->ek_public)},
               {"persistent", identity->ek_persistent},
               {"certificate",
                identity->ek_certificate ? json(b64(*identity->ek_certificate)) : json(nullptr)}}},
             {"ak", {{"public", b64(identity->ak_public)}, {"name", to_hex(identity->ak_name)}}}};
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::printf("host:     %s\n", config->host.c_str());
  std::printf("EK:       RSA 2048 (TCG template L-1), %s\n",
              identity->ek_persistent ? "persistent at 0x81010001" : "transient (not persisted)");
  std::printf(
      "EK cert:  %s\n",
      identity->ek_certificate
          ? (std::to_string(identity->ek_certificate->size()) + " bytes from NV 0x01c00002").c_str()
          : "none in NV 0x01c00002");
  std::printf("AK:       RSA 2048 RSASSA-SHA256, restricted signing, owner-hierarchy primary\n");
  std::printf("AK name:  %s\n", to_hex(identity->ak_name).c_str());
  return kExitOk;
}

int run_enroll(const Options& options) {
  auto config = configure(options);
  if (!config) return report(config.error(), options.json);
  auto verifier = make_http_verifier_client(config->verifier_url, {.ca_file = config->verifier_ca});
  if (!verifier) return report(verifier.error(), options.json);
  auto tpm = EsysAttestationTpm::open(config->tcti, options.persist);
  if (!tpm) return report(tpm.error(), options.json);
  auto result = host::enroll(**tpm, **verifier, *config);
  if (!result)
    return report(result.error().with_context("enrolling " + config->host), options.json);
  if (options.json) {
    std::cout << json{{"ok", true}, {"host", result->host}, {"ak_name", result->ak_name}}.dump(2)
              << "\n";
  } else {
    std::printf("enrolled %s (AK %s)\n", result->host.c_str(), result->ak_name.c_str());
  }
  return kExitOk;
}

int run_attest(const Options& options) {
  auto config = configure(options);
  if (!config) return report(config.error(), options.json);
  auto verifier = make_http_verifier_client(config->verifier_url, {.ca_file = config->verifier_ca});
  if (!verifier) return report(verifier.error(), options.json);
  auto tpm = EsysAttestationTpm::open(config->tcti, false);
  if (!tpm) return report(tpm.error(), options.json);
  auto verdict = host::attest(**tpm, **verifier, *config);
  if (!verdict)
    return report(verdict.error().with_context("attesting " + config->host), options.json);
  json failed = json::array();
  json checks = json::array();
  for (const auto& check : verdict->checks) {
    checks.push_back({{"name", check.name}, {"passed", check.passed}, {"detail", check.detail}});
    if (!check.passed) failed.push_back({{"name", check.name}, {"detail", check.detail}});
  }
  if (options.json) {
    json out{{"ok", verdict->admitted},
             {"admitted", verdict->admitted},
             {"host", verdict->host},
             {"reasons", failed},
             {"checks", checks}};
    out["image_version"] = verdict->image_version ? json(*verdict->image_version) : json(nullptr);
    if (verdict->admitted) out["token"] = config->token.string();
    std::cout << out.dump(2) << "\n";
  }
  if (verdict->admitted) return kExitOk;
  for (const auto& reason : failed) {
    std::fprintf(stderr, "cairn-attest: denied: %s: %s\n",
                 reason["name"].get<std::string>().c_str(),
                 reason["detail"].get<std::string>().c_str());
  }
  if (failed.empty()) std::fprintf(stderr, "cairn-attest: denied (no reason given)\n");
  return kExitDenied;
}

int run_check_token(const Options& options) {
  auto config = configure(options);
  if (!config) return report(config.error(), options.json);
  // The revocation list is asked for briefly: the libvirt hook waits on this answer, and a
  // verifier out of reach leaves the kept list (and the token's own expiry) in charge.
  std::unique_ptr<VerifierClient> verifier;
  if (!config->verifier_url.empty()) {
    auto client =
        make_http_verifier_client(config->verifier_url, {.connect_timeout = std::chrono::seconds(2),
                                                         .timeout = std::chrono::seconds(4),
                                                         .ca_file = config->verifier_ca});
    if (!client) return report(client.error(), options.json);
    verifier = std::move(*client);
  }
  auto checked = check_token(*config, std::chrono::system_clock::now(), verifier.get());
  if (!checked) return report(checked.error(), options.json);
  if (options.json) {
    json out{{"ok", checked->valid}, {"valid", checked->valid}};
    if (checked->valid) {
      out["host"] = checked->claims->host;
      out["image"] = checked->claims->image;
      out["expires_at"] = checked->claims->expires_at;
    } else {
      out["reason"] = checked->reason;
    }
    if (checked->revocation_serial) out["revocation_list_serial"] = *checked->revocation_serial;
    std::cout << out.dump(2) << "\n";
  }
  if (checked->valid) return kExitOk;
  std::fprintf(stderr, "cairn-attest: no valid admission token: %s\n", checked->reason.c_str());
  return kExitDenied;
}

}  // namespace

int main(int argc, char** argv) {
  // tpm2-tss logs its own errors to stderr (e.g. probing for a persistent EK that is not
  // there); this tool reports failures itself, in one line. TSS2_LOG set by the caller wins.
  ::setenv("TSS2_LOG", "all+NONE", 0);

  CLI::App app{"cairn-attest: remote attestation of this host's boot with its TPM"};
  app.require_subcommand(1);
  app.fallthrough();  // global options also after the subcommand: `cairn-attest attest --json`
  Options options;
  app.add_option("--config", options.config_file,
                 "configuration file (default: /etc/cairn/attest.toml, the system credential "
                 "cairn.attest, /run/cairn/attest.toml)");
  app.add_option("--tcti", options.tcti, "TPM TCTI (default: device:/dev/tpmrm0)");
  app.add_option("--verifier", options.verifier, "verifier URL (http:// or https://)");
  app.add_option("--verifier-key", options.verifier_key, "the verifier's token public key (PEM)");
  app.add_option("--host", options.host, "host name to enroll and attest as");
  app.add_option("--token", options.token,
                 "admission token path (default: /run/cairn/attest/token)");
  app.add_option("--event-log", options.event_log, "firmware event log to send");
  app.add_flag("--json", options.json, "machine-readable result on stdout");

  auto* show = app.add_subcommand("show", "the EK and AK of this TPM");
  auto* enroll_cmd = app.add_subcommand("enroll", "enroll this TPM's AK with the verifier");
  enroll_cmd->add_flag("--persist", options.persist,
                       "store a newly created EK at the persistent handle 0x81010001");
  auto* attest_cmd = app.add_subcommand("attest", "quote this boot; on admission keep the token");
  attest_cmd->alias("quote");
  attest_cmd->add_option("--save-submission", options.save_submission,
                         "keep a copy of the QuoteSubmission sent (for cairn-verifier check)");
  auto* check_cmd =
      app.add_subcommand("check-token", "exit 0 only with a valid token for this boot");

  add_version_flag(app, "cairn-attest");
  if (auto code = parse_command_line(app, "cairn-attest", argc, argv)) return *code;
  if (*show) return run_show(options);
  if (*enroll_cmd) return run_enroll(options);
  if (*attest_cmd) return run_attest(options);
  if (*check_cmd) return run_check_token(options);
  return kExitBadInput;
}
