// The list of named checks a verdict reports, collected in the order the policy runs them and
// handed out failed-first (a denied host's operator reads the reasons at the top).
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "attest/protocol.hpp"

namespace cairn::attest::verifier {

class Checks {
 public:
  void add(std::string_view name, bool passed, std::string detail) {
    results_.push_back({std::string(name), passed, std::move(detail)});
  }
  void pass(std::string_view name, std::string detail) { add(name, true, std::move(detail)); }
  void fail(std::string_view name, std::string detail) { add(name, false, std::move(detail)); }
  // A check whose inputs an earlier failure took away still appears, failed, saying why.
  void not_checked(std::string_view name, std::string_view reason) {
    fail(name, "not checked: " + std::string(reason));
  }

  bool all_passed() const {
    return !results_.empty() &&
           std::ranges::all_of(results_, [](const CheckResult& r) { return r.passed; });
  }

  std::vector<CheckResult> ordered() && {
    std::ranges::stable_partition(results_, [](const CheckResult& r) { return !r.passed; });
    return std::move(results_);
  }

 private:
  std::vector<CheckResult> results_;
};

inline std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

}  // namespace cairn::attest::verifier
