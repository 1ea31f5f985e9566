// The verifier's fleet metrics (issue 16 item 9): verdicts and the checks that denied hosts,
// enrollments, nonces, request latency, and how many hosts stand admitted or denied. Names and
// label values are a contract with dashboards and alerts: never rename one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "attest/protocol.hpp"
#include "attest/verifier/metrics.hpp"
#include "attest/verifier/store.hpp"

namespace cairn::attest::verifier {

enum class EnrollmentOutcome { challenged, enrolled, refused };

class ServiceMetrics {
 public:
  ServiceMetrics();

  // A verdict answered: its result and, when denied, each failed check by its stable id.
  void verdict(const Verdict& verdict);
  // challenged: an enroll answered; enrolled: an activation that enrolled the host; refused: an
  // enroll or activation that failed, whatever the reason.
  void enrollment(EnrollmentOutcome outcome);
  void nonce_issued();
  void nonces_expired(std::int64_t count);
  // `endpoint` names the route, never the raw request path: every distinct label value is a
  // series kept for the process's life, and a scanner's paths would add them without bound.
  void request(std::string_view endpoint, int status, double seconds);

  // The text exposition with the host gauge set to `hosts`; without them (the store could not
  // count them) the gauge has no samples rather than stale ones.
  std::string render(const std::optional<HostVerdictCounts>& hosts);

 private:
  MetricsRegistry registry_;
  Counter& verdicts_;
  Counter& failed_checks_;
  Counter& enrollments_;
  Counter& nonces_issued_;
  Counter& nonces_expired_;
  Counter& requests_;
  Histogram& request_duration_;
  Gauge& hosts_;
};

}  // namespace cairn::attest::verifier
