// cairn-verifier's HTTP+JSON service: the endpoints of attest/protocol.hpp behind the HttpFront
// (http_front.hpp), one mutex around the store (the front's workers answer concurrently).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "attest/protocol.hpp"
#include "attest/verifier/enrollment.hpp"
#include "attest/verifier/http_front.hpp"
#include "attest/verifier/seams.hpp"
#include "attest/verifier/service_metrics.hpp"
#include "attest/verifier/store.hpp"
#include "common/openssl.hpp"

namespace cairn::attest::verifier {

struct ServiceOptions {
  std::chrono::seconds nonce_lifetime{60};
  std::chrono::seconds token_lifetime{600};
  std::size_t max_request_bytes = 4u << 20;    // an event log is ~10-100 KiB, base64 in JSON
  std::optional<std::filesystem::path> ek_ca;  // see EkPolicy
  bool allow_ek_without_certificate = false;
  // One line per request outcome (the daemon writes it to the journal); library code never
  // prints itself.
  std::function<void(const std::string&)> log;
};

class VerifierService {
 public:
  VerifierService(Store& store, EvpPkeyPtr token_key, Seams seams, ServiceOptions options = {});
  ~VerifierService();

  // The endpoints, transport-free.
  Expected<EnrollChallenge> enroll(const EnrollRequest& request);
  Expected<EnrollResult> activate(const EnrollActivation& activation);
  // Errc::not_found for a host that is not enrolled.
  Expected<NonceGrant> grant_nonce(const NonceRequest& request);
  // Marks the nonce used whatever the verdict, when the submission comes from the host it was
  // granted to and its AK signed the nonce; records the quote's clock on a pass and, for an
  // enrolled host, the verdict as its last.
  Expected<Verdict> attest(const QuoteSubmission& submission);
  // Fleet metrics in Prometheus text format 0.0.4 (see service_metrics.hpp), the host gauge
  // counted from the store now; when the store cannot count, the gauge has no samples and the
  // reason goes to options.log.
  std::string metrics_text();
  // For the transport, once a request is answered: `endpoint` the route (never the raw path),
  // `status` its HTTP status, `seconds` from receipt to answer. Thread-safe, takes no lock of
  // the service's.
  void observe_request(std::string_view endpoint, int status, double seconds);
  Expected<std::string> token_key_pem() const;
  // The signed list of revoked versions (GET /v1/revocations, attest/revocations.hpp), valid for
  // kRevocationListLifetime, its serial the time in milliseconds.
  Expected<std::string> revocation_list();
  // GET /v1/versions/{name}/{version}/hosts: the hosts admitted on an image version (the fleet's
  // promotion asks it), as JSON; Errc::not_found for a version never loaded.
  Expected<std::string> version_hosts(std::string_view name, std::string_view version);

  // Every HTTP request, transport-free: the endpoints above as JSON, GET /healthz; 404 for an
  // unknown path, 405 for a known path with another method.
  FrontResponse handle(const FrontRequest& request);

  // Binds `address` (port 0: any free port; HTTPS when `tls` is set) and returns the port.
  // Errc::busy when the address is in use.
  Expected<int> bind(const ListenAddress& address, const std::optional<TlsFiles>& tls = {},
                     FrontLimits limits = {});
  // Serves until stop() (from another thread or a signal handler's thread).
  Status listen();
  void stop();

 private:
  std::mutex mutex_;  // guards store_ and enrollment_
  Store& store_;
  EvpPkeyPtr token_key_;
  Seams seams_;
  ServiceMetrics metrics_;  // thread-safe on its own; outlives the transport's threads
  static constexpr std::chrono::seconds kPurgeInterval{10};
  std::chrono::system_clock::time_point last_purge_{};  // guarded by mutex_
  ServiceOptions options_;
  Enrollment enrollment_;
  std::unique_ptr<HttpFront> front_;
};

// HTTP status for an error code: 400 bad input, 403 refused, 404 unknown, 503 busy, 500 else.
int http_status_for(const Error& error);
// That status with {"error": describe()}.
FrontResponse error_response(const Error& error);

}  // namespace cairn::attest::verifier
