#include "attest/verifier/service.hpp"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "attest/token.hpp"
#include "attest/verifier/policy.hpp"

namespace cairn::attest::verifier {

namespace {

std::string error_json(const std::string& message) {
  return nlohmann::json{{"error", message}}.dump();
}

void reply_error(httplib::Response& response, const Error& error) {
  response.status = http_status_for(error);
  response.set_content(error_json(error.describe()), "application/json");
}

// Parses the body as `Request`, runs `handler`, answers its result as JSON.
template <class Request, class Handler>
httplib::Server::Handler endpoint(Expected<Request> (*parse)(std::string_view), Handler handler) {
  return [parse, handler](const httplib::Request& request, httplib::Response& response) {
    auto parsed = parse(request.body);
    if (!parsed) return reply_error(response, parsed.error());
    auto result = handler(*parsed);
    if (!result) return reply_error(response, result.error());
    response.set_content(to_json(*result), "application/json");
  };
}

Bytes to_bytes(const std::string& text) { return {text.begin(), text.end()}; }

bool passed(const Verdict& verdict, std::string_view check) {
  return std::ranges::any_of(verdict.checks, [&](const CheckResult& result) {
    return result.name == check && result.passed;
  });
}

}  // namespace

int http_status_for(const Error& error) {
  switch (error.code()) {
    case Errc::invalid_input:
    case Errc::integrity:
      return 400;
    case Errc::permission:
    case Errc::crypto:
      return 403;
    case Errc::not_found:
      return 404;
    case Errc::busy:
    case Errc::unavailable:
      return 503;
    default:
      return 500;
  }
}

VerifierService::VerifierService(Store& store, EvpPkeyPtr token_key, Seams seams,
                                 ServiceOptions options)
    : store_(store),
      token_key_(std::move(token_key)),
      seams_(std::move(seams)),
      options_(std::move(options)),
      enrollment_(store_, seams_,
                  {.ca = options_.ek_ca,
                   .allow_without_certificate = options_.allow_ek_without_certificate,
                   .log = options_.log}),
      server_(std::make_unique<httplib::Server>()) {
  route();
}

VerifierService::~VerifierService() = default;

Expected<EnrollChallenge> VerifierService::enroll(const EnrollRequest& request) {
  std::lock_guard lock(mutex_);
  auto challenge = enrollment_.begin(request);
  metrics_.enrollment(challenge ? EnrollmentOutcome::challenged : EnrollmentOutcome::refused);
  if (options_.log) {
    options_.log("enroll " + request.host + ": " +
                 (challenge ? "challenge " + challenge->enrollment : challenge.error().describe()));
  }
  return challenge;
}

Expected<EnrollResult> VerifierService::activate(const EnrollActivation& activation) {
  std::lock_guard lock(mutex_);
  auto result = enrollment_.activate(activation);
  metrics_.enrollment(result ? EnrollmentOutcome::enrolled : EnrollmentOutcome::refused);
  if (options_.log) {
    options_.log("activate " + activation.enrollment + ": " +
                 (result ? "enrolled " + result->host + " with AK " + result->ak_name
                         : result.error().describe()));
  }
  return result;
}

Expected<NonceGrant> VerifierService::grant_nonce(const NonceRequest& request) {
  std::lock_guard lock(mutex_);
  auto host = CAIRN_TRY(store_.find_host(request.host));
  if (!host) return fail(Errc::not_found, "host \"" + request.host + "\" is not enrolled");
  auto now = seams_.now();
  // Expired nonces stay an hour, so a late replay is named "expired" rather than "unknown".
  metrics_.nonces_expired(
      CAIRN_TRY(store_.purge_expired(unix_seconds(now - std::chrono::hours(1)))));
  NonceRecord record{.nonce = CAIRN_TRY(seams_.random(32)),
                     .host = request.host,
                     .issued_at = unix_seconds(now),
                     .expires_at = unix_seconds(now + options_.nonce_lifetime)};
  CAIRN_CHECK(store_.add_nonce(record));
  metrics_.nonce_issued();
  return NonceGrant{.nonce = base64_encode(
                        {reinterpret_cast<const char*>(record.nonce.data()), record.nonce.size()}),
                    .expires_at = record.expires_at,
                    .pcrs = {std::begin(kQuotedPcrs), std::end(kQuotedPcrs)}};
}

Expected<Verdict> VerifierService::attest(const QuoteSubmission& submission) {
  std::lock_guard lock(mutex_);
  auto host = CAIRN_TRY(store_.find_host(submission.host));
  std::optional<NonceRecord> nonce;
  if (auto decoded = base64_decode(submission.nonce)) {
    nonce = CAIRN_TRY(store_.find_nonce(to_bytes(*decoded)));
  }
  auto images = CAIRN_TRY(store_.list_images());
  auto now = seams_.now();
  Verdict verdict = verify_quote(PolicyInput{.submission = &submission,
                                             .host = host ? &*host : nullptr,
                                             .nonce = nonce ? &*nonce : nullptr,
                                             .images = images,
                                             .now = now,
                                             .token_key = token_key_.get(),
                                             .token_lifetime = options_.token_lifetime});
  // Single use, whatever the verdict says, but only the host it was granted to can spend it,
  // with a quote its AK signed over it: anyone else's submission would otherwise burn a genuine
  // host's nonce and get its quote denied.
  if (nonce && nonce->host == submission.host && passed(verdict, check::kNonceBound) &&
      passed(verdict, check::kAkSignature)) {
    CAIRN_CHECK(store_.mark_nonce_used(nonce->nonce));
  }
  if (verdict.admitted) {
    if (auto clock = quote_clock(submission)) {
      CAIRN_CHECK(store_.record_quote_clock(submission.host, clock->reset_count, clock->clock));
    }
  }
  if (host) {
    CAIRN_CHECK(
        store_.record_verdict(submission.host, {.admitted = verdict.admitted,
                                                .image_version = verdict.image_version.value_or(""),
                                                .at = unix_seconds(now)}));
  }
  metrics_.verdict(verdict);
  if (options_.log) {
    std::string line =
        "attest " + submission.host + ": " +
        (verdict.admitted ? "admitted " + verdict.image_version.value_or("") : "denied");
    for (const auto& check : verdict.checks) {
      if (!check.passed) line += "; " + check.name + ": " + check.detail;
    }
    options_.log(line);
  }
  return verdict;
}

std::string VerifierService::metrics_text() {
  std::optional<HostVerdictCounts> hosts;
  {
    std::lock_guard lock(mutex_);
    auto counted = store_.count_hosts_by_last_verdict();
    if (counted) {
      hosts = *counted;
    } else if (options_.log) {
      options_.log("metrics: hosts not counted: " + counted.error().describe());
    }
  }
  return metrics_.render(hosts);
}

void VerifierService::observe_request(std::string_view endpoint, int status, double seconds) {
  metrics_.request(endpoint, status, seconds);
}

Expected<std::string> VerifierService::token_key_pem() const {
  return public_key_pem(token_key_.get());
}

void VerifierService::route() {
  auto& server = *server_;
  server.set_payload_max_length(options_.max_request_bytes);
  server.Post("/v1/enroll",
              endpoint(&parse_EnrollRequest, [this](const EnrollRequest& r) { return enroll(r); }));
  server.Post(
      "/v1/enroll/activate",
      endpoint(&parse_EnrollActivation, [this](const EnrollActivation& r) { return activate(r); }));
  server.Post("/v1/nonce", endpoint(&parse_NonceRequest,
                                    [this](const NonceRequest& r) { return grant_nonce(r); }));
  server.Post("/v1/attest", endpoint(&parse_QuoteSubmission,
                                     [this](const QuoteSubmission& r) { return attest(r); }));
  server.Get("/v1/token-key", [this](const httplib::Request&, httplib::Response& response) {
    auto pem = token_key_pem();
    if (!pem) return reply_error(response, pem.error());
    response.set_content(nlohmann::json{{"public_key_pem", *pem}}.dump(), "application/json");
  });
  // httplib's own refusals (unknown path, body too large) get a JSON error too.
  server.set_error_handler([this](const httplib::Request& request, httplib::Response& response) {
    if (!response.body.empty()) return;
    std::string message =
        response.status == 413
            ? "request body larger than " + std::to_string(options_.max_request_bytes) + " bytes"
        : response.status == 404 ? "no endpoint " + request.method + " " + request.path
                                 : "HTTP " + std::to_string(response.status);
    response.set_content(error_json(message), "application/json");
  });
}

Expected<int> VerifierService::bind(const std::string& host, int port) {
  int bound = port == 0 ? server_->bind_to_any_port(host) : port;
  if (port != 0 && !server_->bind_to_port(host, port)) bound = -1;
  if (bound < 0) {
    return fail(Errc::unavailable,
                "cannot listen on " + host + ":" + std::to_string(port) + " (in use or denied)");
  }
  return bound;
}

Status VerifierService::listen() {
  if (!server_->listen_after_bind()) return fail(Errc::io, "the HTTP server stopped with an error");
  return {};
}

void VerifierService::stop() { server_->stop(); }

}  // namespace cairn::attest::verifier
