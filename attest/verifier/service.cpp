#include "attest/verifier/service.hpp"

#include <nlohmann/json.hpp>

#include "attest/revocations.hpp"
#include "attest/token.hpp"
#include "attest/verifier/policy.hpp"

namespace cairn::attest::verifier {

namespace {

Bytes to_bytes(const std::string& text) { return {text.begin(), text.end()}; }

bool passed(const Verdict& verdict, std::string_view check) {
  return std::ranges::any_of(verdict.checks, [&](const CheckResult& result) {
    return result.name == check && result.passed;
  });
}

void deny_spent_nonce(Verdict& verdict) {
  for (auto& result : verdict.checks) {
    if (result.name == check::kNonceUnused) {
      result.passed = false;
      result.detail = "already used for a quote verified at the same time (replay)";
    }
  }
  std::ranges::stable_partition(verdict.checks, [](const CheckResult& r) { return !r.passed; });
  verdict.admitted = false;
  verdict.token.reset();
}

}  // namespace

FrontResponse error_response(const Error& error) {
  return {.status = http_status_for(error), .body = json_error(error.describe())};
}

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
                   .log = options_.log}) {}

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
  // Expired nonces stay an hour, so a late replay is named "expired" rather than "unknown";
  // purged every ten seconds at most, not for every grant.
  if (now - last_purge_ >= kPurgeInterval) {
    metrics_.nonces_expired(
        CAIRN_TRY(store_.purge_expired(unix_seconds(now - std::chrono::hours(1)))));
    last_purge_ = now;
  }
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
  // What the verdict changes, in one transaction: one commit (one WAL flush) per quote.
  CAIRN_CHECK(store_.in_transaction([&]() -> Status {
    // Single use, whatever the verdict says, but only the host it was granted to can spend it,
    // with a quote its AK signed over it: anyone else's submission would otherwise burn a
    // genuine host's nonce and get its quote denied.
    if (nonce && nonce->host == submission.host && passed(verdict, check::kNonceBound) &&
        passed(verdict, check::kAkSignature) && !CAIRN_TRY(store_.claim_nonce(nonce->nonce))) {
      // Read unused, but spent since by a quote verified at the same time, here or on another
      // replica sharing the database: only the first to mark it used is admitted.
      deny_spent_nonce(verdict);
    }
    if (verdict.admitted && verdict.image_version) {
      auto label = *verdict.image_version;  // "name version"
      auto space = label.rfind(' ');
      CAIRN_CHECK(store_.record_admission(submission.host, label.substr(0, space),
                                          label.substr(space + 1), unix_seconds(now)));
    }
    if (!host) return {};
    std::optional<QuoteClock> clock;
    if (verdict.admitted) clock = quote_clock(submission);
    return store_.record_verdict(submission.host,
                                 {.admitted = verdict.admitted,
                                  .image_version = verdict.image_version.value_or(""),
                                  .at = unix_seconds(now)},
                                 clock);
  }));
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

Expected<std::string> VerifierService::revocation_list() {
  std::lock_guard lock(mutex_);
  auto now = seams_.now();
  RevocationList list{
      .serial =
          std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count(),
      .issued_at = unix_seconds(now),
      .expires_at = unix_seconds(now + kRevocationListLifetime)};
  for (const auto& image : CAIRN_TRY(store_.list_images())) {
    if (image.state == ImageState::revoked) list.revoked.push_back(image.label());
  }
  return sign_revocation_list(list, token_key_.get());
}

Expected<std::string> VerifierService::version_hosts(std::string_view name,
                                                     std::string_view version) {
  std::lock_guard lock(mutex_);
  auto images = CAIRN_TRY(store_.list_images());
  auto image = std::ranges::find_if(images, [&](const ImageVersion& candidate) {
    return candidate.measurements.name == name && candidate.measurements.version == version;
  });
  if (image == images.end()) {
    return fail(Errc::not_found, "no image version " + std::string(name) + " " +
                                     std::string(version) + " was loaded into this verifier");
  }
  nlohmann::json hosts = nlohmann::json::array();
  for (const auto& host : CAIRN_TRY(store_.hosts_on_version(name, version))) {
    hosts.push_back({{"host", host.host},
                     {"first_admitted_at", host.first_admitted_at},
                     {"last_admitted_at", host.last_admitted_at},
                     {"current", host.current}});
  }
  return nlohmann::json{{"name", name},
                        {"version", version},
                        {"state", image_state_name(image->state)},
                        {"hosts", std::move(hosts)}}
      .dump();
}

Expected<std::string> VerifierService::token_key_pem() const {
  return public_key_pem(token_key_.get());
}

namespace {

constexpr std::string_view kOtherRoute = "other";
constexpr std::string_view kVersionHostsRoute = "/v1/versions/{name}/{version}/hosts";

// The name and version of "/v1/versions/{name}/{version}/hosts", if `path` is one.
std::optional<std::pair<std::string_view, std::string_view>> version_hosts_path(
    std::string_view path) {
  constexpr std::string_view kPrefix = "/v1/versions/", kSuffix = "/hosts";
  if (!path.starts_with(kPrefix) || !path.ends_with(kSuffix)) return std::nullopt;
  auto middle = path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size());
  auto slash = middle.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == middle.size() ||
      middle.find('/', slash + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  return std::pair{middle.substr(0, slash), middle.substr(slash + 1)};
}

// The endpoint a path names, for the metrics' labels: a raw path from a client would make a new
// series per path, for ever.
std::string_view route_name(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  for (std::string_view known : {"/v1/enroll", "/v1/enroll/activate", "/v1/nonce", "/v1/attest",
                                 "/v1/token-key", "/v1/revocations", "/healthz", "/metrics"}) {
    if (path == known) return known;
  }
  if (version_hosts_path(path)) return kVersionHostsRoute;
  return kOtherRoute;
}

template <class Request, class Result>
FrontResponse call(std::string_view body, Expected<Request> (*parse)(std::string_view),
                   const std::function<Expected<Result>(const Request&)>& handler) {
  auto parsed = parse(body);
  if (!parsed) return error_response(parsed.error());
  auto result = handler(*parsed);
  if (!result) return error_response(result.error());
  return {.body = to_json(*result)};
}

}  // namespace

FrontResponse VerifierService::handle(const FrontRequest& request) {
  std::string_view path = request.target;
  path = path.substr(0, path.find('?'));
  auto is = [&](std::string_view method, std::string_view endpoint) {
    return request.method == method && path == endpoint;
  };
  if (is("POST", "/v1/enroll")) {
    return call<EnrollRequest, EnrollChallenge>(request.body, &parse_EnrollRequest,
                                                [this](const auto& r) { return enroll(r); });
  }
  if (is("POST", "/v1/enroll/activate")) {
    return call<EnrollActivation, EnrollResult>(request.body, &parse_EnrollActivation,
                                                [this](const auto& r) { return activate(r); });
  }
  if (is("POST", "/v1/nonce")) {
    return call<NonceRequest, NonceGrant>(request.body, &parse_NonceRequest,
                                          [this](const auto& r) { return grant_nonce(r); });
  }
  if (is("POST", "/v1/attest")) {
    return call<QuoteSubmission, Verdict>(request.body, &parse_QuoteSubmission,
                                          [this](const auto& r) { return attest(r); });
  }
  if (is("GET", "/v1/token-key")) {
    auto pem = token_key_pem();
    if (!pem) return error_response(pem.error());
    return {.body = nlohmann::json{{"public_key_pem", *pem}}.dump()};
  }
  if (is("GET", "/v1/revocations")) {
    auto list = revocation_list();
    if (!list) return error_response(list.error());
    return {.content_type = "application/cairn-revocations", .body = std::move(*list)};
  }
  if (auto version = version_hosts_path(path); version && request.method == "GET") {
    auto hosts = version_hosts(version->first, version->second);
    if (!hosts) return error_response(hosts.error());
    return {.body = std::move(*hosts)};
  }
  if (is("GET", "/healthz")) return {.body = R"({"status":"ok"})"};
  if (is("GET", "/metrics")) {
    return {.content_type = "text/plain; version=0.0.4; charset=utf-8", .body = metrics_text()};
  }
  if (route_name(path) != kOtherRoute) {
    return {
        .status = 405,
        .body = json_error("method " + request.method + " not allowed on " + std::string(path))};
  }
  return {.status = 404,
          .body = json_error("no endpoint " + request.method + " " + std::string(path))};
}

Expected<int> VerifierService::bind(const ListenAddress& address,
                                    const std::optional<TlsFiles>& tls, FrontLimits limits) {
  limits.max_body_bytes = options_.max_request_bytes;
  front_ = CAIRN_TRY(HttpFront::open(
      address, tls, limits, [this](const FrontRequest& request) { return handle(request); },
      [this](std::string_view target, int status, double seconds) {
        observe_request(route_name(target), status, seconds);
      }));
  return front_->port();
}

Status VerifierService::listen() {
  if (!front_) return fail(Errc::internal, "listen before bind");
  front_->run();
  return {};
}

void VerifierService::stop() {
  if (front_) front_->stop();
}

}  // namespace cairn::attest::verifier
