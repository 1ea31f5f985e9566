#include "common/cli_errors.hpp"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

namespace cairn {

int exit_code_for(const Error& error) {
  switch (error.code()) {
    case Errc::invalid_input:
    case Errc::not_found:
      return 1;
    case Errc::permission:
    case Errc::no_space:
    case Errc::unavailable:
    case Errc::busy:
    case Errc::cancelled:
      return 3;
    case Errc::integrity:
    case Errc::crypto:
      return 5;
    default:
      return 4;
  }
}

int report_error(std::string_view program, const Error& error, bool json) {
  if (json) {
    nlohmann::json out = {
        {"ok", false},
        {"error", {{"code", std::string(errc_name(error.code()))}, {"message", error.describe()}}}};
    std::cout << out.dump(2) << "\n";
  }
  std::fprintf(stderr, "%.*s: error: %s\n", static_cast<int>(program.size()), program.data(),
               error.describe().c_str());
  return exit_code_for(error);
}

}  // namespace cairn
