#include "common/error.hpp"

#include <cerrno>
#include <cstring>

namespace cairn {

std::string_view errc_name(Errc code) {
  switch (code) {
    case Errc::invalid_input:
      return "invalid-input";
    case Errc::not_found:
      return "not-found";
    case Errc::io:
      return "io";
    case Errc::permission:
      return "permission";
    case Errc::no_space:
      return "no-space";
    case Errc::crypto:
      return "crypto";
    case Errc::process:
      return "process";
    case Errc::integrity:
      return "integrity";
    case Errc::unavailable:
      return "unavailable";
    case Errc::busy:
      return "busy";
    case Errc::internal:
      return "internal";
    case Errc::cancelled:
      return "cancelled";
  }
  return "unknown";
}

std::string Error::describe() const {
  std::string out;
  for (const auto& layer : context_) {
    out += layer;
    out += ": ";
  }
  out += message_;
  return out;
}

std::unexpected<Error> fail_errno(std::string what, int err) {
  Errc code = Errc::io;
  if (err == ENOSPC || err == EDQUOT) code = Errc::no_space;
  if (err == EACCES || err == EPERM) code = Errc::permission;
  if (err == ENOENT) code = Errc::not_found;
  return fail(code, what + ": " + std::strerror(err));
}

}  // namespace cairn
