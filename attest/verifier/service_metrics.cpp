#include "attest/verifier/service_metrics.hpp"

namespace cairn::attest::verifier {

namespace {

std::string_view enrollment_outcome_name(EnrollmentOutcome outcome) {
  switch (outcome) {
    case EnrollmentOutcome::challenged:
      return "challenged";
    case EnrollmentOutcome::enrolled:
      return "enrolled";
    case EnrollmentOutcome::refused:
      return "refused";
  }
  return "refused";
}

MetricLabels verdict_labels(bool admitted) {
  return {{"result", std::string(verdict_result_name(admitted))}};
}

}  // namespace

ServiceMetrics::ServiceMetrics()
    : verdicts_(registry_.counter("cairn_verifier_verdicts_total", "Verdicts answered on quotes.")),
      failed_checks_(registry_.counter("cairn_verifier_failed_checks_total",
                                       "Failed checks of denied verdicts, by stable check id.")),
      enrollments_(registry_.counter(
          "cairn_verifier_enrollments_total",
          "Enrollment steps: challenged (enroll answered), enrolled (activation passed), "
          "refused (either failed).")),
      nonces_issued_(registry_.counter("cairn_verifier_nonces_issued_total", "Nonces granted.")),
      // Purged an hour after expiry, at the next grant: the count lags the expiry that much.
      nonces_expired_(registry_.counter(
          "cairn_verifier_nonces_expired_total",
          "Nonces that expired unused, counted when purged (an hour or more after expiry).")),
      requests_(registry_.counter("cairn_verifier_requests_total",
                                  "Requests answered, by endpoint and HTTP status code.")),
      request_duration_(registry_.histogram(
          "cairn_verifier_request_duration_seconds", "Time to answer a request, by endpoint.",
          {.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5})),
      hosts_(registry_.gauge("cairn_verifier_hosts",
                             "Enrolled hosts by the result of their last verdict (none: no "
                             "quote since enrollment).")) {
  // Series that exist from the start read 0 instead of missing until their first event.
  for (bool admitted : {true, false}) verdicts_.add(verdict_labels(admitted), 0);
  for (auto outcome :
       {EnrollmentOutcome::challenged, EnrollmentOutcome::enrolled, EnrollmentOutcome::refused}) {
    enrollments_.add({{"result", std::string(enrollment_outcome_name(outcome))}}, 0);
  }
  nonces_issued_.add({}, 0);
  nonces_expired_.add({}, 0);
}

void ServiceMetrics::verdict(const Verdict& verdict) {
  verdicts_.add(verdict_labels(verdict.admitted));
  if (verdict.admitted) return;
  for (const auto& check : verdict.checks) {
    if (!check.passed) failed_checks_.add({{"check", check.name}});
  }
}

void ServiceMetrics::enrollment(EnrollmentOutcome outcome) {
  enrollments_.add({{"result", std::string(enrollment_outcome_name(outcome))}});
}

void ServiceMetrics::nonce_issued() { nonces_issued_.add(); }

void ServiceMetrics::nonces_expired(std::int64_t count) {
  nonces_expired_.add({}, static_cast<double>(count));
}

void ServiceMetrics::request(std::string_view endpoint, int status, double seconds) {
  requests_.add({{"endpoint", std::string(endpoint)}, {"code", std::to_string(status)}});
  request_duration_.observe({{"endpoint", std::string(endpoint)}}, seconds);
}

std::string ServiceMetrics::render(const std::optional<HostVerdictCounts>& hosts) {
  if (hosts) {
    for (auto [result, count] : {std::pair{verdict_result_name(true), hosts->admitted},
                                 std::pair{verdict_result_name(false), hosts->denied},
                                 std::pair{std::string_view("none"), hosts->none}}) {
      hosts_.set({{"last_verdict", std::string(result)}}, static_cast<double>(count));
    }
  } else {
    hosts_.clear();
  }
  return registry_.render();
}

}  // namespace cairn::attest::verifier
