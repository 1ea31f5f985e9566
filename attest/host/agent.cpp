#include "attest/host/agent.hpp"

#include <filesystem>

#include "attest/revocations.hpp"
#include "common/fs.hpp"
#include "common/hash.hpp"

namespace cairn::attest::host {

namespace fs = std::filesystem;

namespace {

std::string as_string(const Bytes& bytes) { return std::string(bytes.begin(), bytes.end()); }
Bytes as_bytes(const std::string& text) { return Bytes(text.begin(), text.end()); }

Expected<Bytes> decode(std::string_view base64, std::string_view what) {
  auto decoded = base64_decode(base64);
  if (!decoded) {
    return fail(Errc::unavailable, "the verifier sent a malformed " + std::string(what));
  }
  return as_bytes(*decoded);
}

Status require_verifier(const AgentConfig& config) {
  if (config.verifier_url.empty()) {
    return fail(Errc::invalid_input,
                "no verifier configured (verifier_url in /etc/cairn/attest.toml or --verifier)");
  }
  return {};
}

}  // namespace

Expected<std::string> read_boot_id(const fs::path& path) {
  std::string text = CAIRN_TRY(read_file(path));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty()) return fail(Errc::invalid_input, path.string() + " is empty");
  return text;
}

Expected<EnrollResult> enroll(AttestationTpm& tpm, VerifierClient& verifier,
                              const AgentConfig& config) {
  CAIRN_CHECK(require_verifier(config));
  TpmIdentity identity = CAIRN_TRY(tpm.identity());
  EnrollRequest request{.host = config.host,
                        .ek_public = base64_encode(as_string(identity.ek_public)),
                        .ak_public = base64_encode(as_string(identity.ak_public))};
  if (identity.ek_certificate) {
    request.ek_certificate = base64_encode(as_string(*identity.ek_certificate));
  }
  EnrollChallenge challenge = CAIRN_TRY(verifier.enroll(request));
  Bytes blob = CAIRN_TRY(decode(challenge.credential_blob, "credential blob"));
  Bytes secret = CAIRN_TRY(decode(challenge.encrypted_secret, "encrypted secret"));
  Bytes released = CAIRN_TRY(with_context(tpm.activate(blob, secret), "activating the credential"));
  EnrollResult result = CAIRN_TRY(verifier.activate(
      {.enrollment = challenge.enrollment, .secret = base64_encode(as_string(released))}));
  if (result.ak_name != to_hex(identity.ak_name)) {
    return fail(Errc::integrity, "the verifier enrolled AK name " + result.ak_name +
                                     ", but this TPM's AK is " + to_hex(identity.ak_name));
  }
  return result;
}

Expected<Verdict> attest(AttestationTpm& tpm, VerifierClient& verifier, const AgentConfig& config) {
  CAIRN_CHECK(require_verifier(config));
  NonceGrant grant = CAIRN_TRY(verifier.nonce({.host = config.host}));
  Bytes nonce = CAIRN_TRY(decode(grant.nonce, "nonce"));
  if (grant.pcrs.empty()) return fail(Errc::unavailable, "the verifier granted no PCRs to quote");

  // The log is read before the quote: an event measured in between then shows as a log/PCR
  // mismatch the verifier names, never as a log that claims more than the quote covers.
  std::string event_log =
      CAIRN_TRY(with_context(read_file(config.event_log), "reading the firmware event log"));
  std::optional<std::string> systemd_log;
  std::error_code ec;
  if (!config.systemd_log.empty() && fs::exists(config.systemd_log, ec)) {
    systemd_log = base64_encode(CAIRN_TRY(read_file(config.systemd_log)));
  }
  std::string boot_id = CAIRN_TRY(read_boot_id(config.boot_id));
  QuoteResult quoted = CAIRN_TRY(tpm.quote(nonce, grant.pcrs));

  QuoteSubmission submission{.host = config.host,
                             .nonce = grant.nonce,
                             .quoted = base64_encode(as_string(quoted.attest)),
                             .signature = base64_encode(as_string(quoted.signature)),
                             .event_log = base64_encode(event_log),
                             .systemd_log = std::move(systemd_log),
                             .boot_id = boot_id};
  for (const auto& [pcr, value] : quoted.pcrs) submission.pcrs[pcr] = to_hex(value);
  if (!config.save_submission.empty()) {
    CAIRN_CHECK(write_file_atomic(config.save_submission, to_json(submission), 0600));
  }
  Verdict verdict = CAIRN_TRY(verifier.attest(submission));

  if (!verdict.admitted) {
    // An earlier token of this boot must not outlive a denial: the gate asks only the file.
    fs::remove(config.token, ec);
    if (ec) return fail_errno("removing the old token " + config.token.string(), ec.value());
    return verdict;
  }
  if (!verdict.token) {
    return fail(Errc::unavailable, "the verifier admitted this host but sent no token");
  }
  std::error_code dir_ec;
  // A bare file name (--token t.jwt) has no parent to create: it is in the current directory.
  if (config.token.has_parent_path()) fs::create_directories(config.token.parent_path(), dir_ec);
  if (dir_ec) {
    return fail_errno("creating " + config.token.parent_path().string(), dir_ec.value());
  }
  CAIRN_CHECK(write_file_atomic(config.token, *verdict.token, 0600));
  return verdict;
}

std::filesystem::path revocation_list_path(const AgentConfig& config) {
  return config.token.parent_path() / "revocations";
}

namespace {

// The newest revocation list that verifies: the verifier's, kept when at least as new as the
// kept one; else the kept one. nullopt when neither is usable.
std::optional<RevocationList> newest_revocations(const AgentConfig& config, EVP_PKEY* key,
                                                 VerifierClient& verifier,
                                                 std::chrono::system_clock::time_point now) {
  fs::path kept_path = revocation_list_path(config);
  std::optional<RevocationList> kept;
  if (auto text = read_file(kept_path)) {
    if (auto list = verify_revocation_list(*text, key, now)) kept = std::move(*list);
  }
  auto fetched_text = verifier.revocations();
  if (!fetched_text) return kept;
  auto fetched = verify_revocation_list(*fetched_text, key, now);
  if (!fetched || (kept && fetched->serial < kept->serial)) return kept;
  // Kept for when the verifier cannot be reached; failing to keep it does not change this check.
  std::error_code ignored;
  fs::create_directories(kept_path.parent_path(), ignored);
  (void)write_file_atomic(kept_path, *fetched_text, 0644);
  return std::move(*fetched);
}

}  // namespace

Expected<TokenCheck> check_token(const AgentConfig& config,
                                 std::chrono::system_clock::time_point now,
                                 VerifierClient* verifier) {
  if (config.verifier_key.empty()) {
    return fail(
        Errc::invalid_input,
        "no token key configured (verifier_key in /etc/cairn/attest.toml or --verifier-key)");
  }
  EvpPkeyPtr key = CAIRN_TRY(
      with_context(read_public_key_pem(config.verifier_key), "reading the verifier's token key"));
  std::error_code ec;
  if (!fs::exists(config.token, ec)) {
    return TokenCheck{.reason = "no admission token at " + config.token.string()};
  }
  auto token = read_file(config.token);
  if (!token) return TokenCheck{.reason = token.error().describe()};
  auto boot_id = read_boot_id(config.boot_id);
  if (!boot_id) return std::unexpected(std::move(boot_id).error());
  while (!token->empty() && (token->back() == '\n' || token->back() == ' ')) token->pop_back();
  auto claims = verify_token(*token, key.get(), *boot_id, now);
  if (!claims) return TokenCheck{.reason = claims.error().message()};
  if (claims->host != config.host) {
    return TokenCheck{.reason = "the token is for host '" + claims->host + "', not '" +
                                config.host + "'"};
  }
  TokenCheck check{.valid = true, .claims = std::move(*claims)};
  if (verifier) {
    if (auto list = newest_revocations(config, key.get(), *verifier, now)) {
      check.revocation_serial = list->serial;
      if (list->revokes(check.claims->image)) {
        return TokenCheck{.reason = "image " + check.claims->image +
                                    " has been revoked (revocation list " +
                                    std::to_string(list->serial) + ")",
                          .revocation_serial = list->serial};
      }
    }
  }
  return check;
}

}  // namespace cairn::attest::host
