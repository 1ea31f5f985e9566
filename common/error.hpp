// Errors for every Cairn module: a stable code, a message, and the context chain added on the
// way up ("while building recipe X: while writing the slot: no space left").
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cairn {

// Stable codes: they end up in JSON results, reports and exit codes, so never renumber.
enum class Errc : int {
  invalid_input = 1,  // malformed recipe, argument, file format
  not_found = 2,      // file, package, key, ref that should exist does not
  io = 3,             // read/write/syscall failure
  permission = 4,     // not root, access denied
  no_space = 5,       // not enough disk
  crypto = 6,         // signing/verification/key failure
  process = 7,        // an external tool failed
  integrity = 8,      // digest, signature or root-hash mismatch
  unavailable = 9,    // mirror or service unreachable
  busy = 10,          // another operation holds the lock
  internal = 11,      // a bug: an invariant did not hold
  cancelled = 12,     // stopped on request (Cancel(), SIGTERM), nothing half-done left behind
};
inline constexpr Errc kLastErrc = Errc::cancelled;

std::string_view errc_name(Errc code);

class Error {
 public:
  Error(Errc code, std::string message) : code_(code), message_(std::move(message)) {}

  Errc code() const { return code_; }
  const std::string& message() const { return message_; }
  // Outermost context first.
  const std::vector<std::string>& context() const { return context_; }

  // Adds an outer layer of context ("while doing X").
  Error&& with_context(std::string context) && {
    context_.insert(context_.begin(), std::move(context));
    return std::move(*this);
  }
  Error& with_context(std::string context) & {
    context_.insert(context_.begin(), std::move(context));
    return *this;
  }

  // "ctx1: ctx2: message"
  std::string describe() const;

 private:
  Errc code_;
  std::string message_;
  std::vector<std::string> context_;
};

template <class T>
using Expected = std::expected<T, Error>;
using Status = Expected<void>;

inline std::unexpected<Error> fail(Errc code, std::string message) {
  return std::unexpected(Error(code, std::move(message)));
}

// The errno-flavoured failure: "what: strerror(errno)".
std::unexpected<Error> fail_errno(std::string what, int err);

// Adds context to the error of an Expected, passing values through untouched.
template <class T>
Expected<T> with_context(Expected<T>&& result, std::string context) {
  if (!result) result.error().with_context(std::move(context));
  return std::move(result);
}

}  // namespace cairn

// Propagates an error from an Expected-returning expression; evaluates to its value.
// (GNU statement expression: g++ and clang both support it; CMAKE_CXX_EXTENSIONS is on.)
#define CAIRN_TRY(expr)                                             \
  ({                                                                \
    auto cairn_try_result_ = (expr);                                \
    if (!cairn_try_result_) {                                       \
      return std::unexpected(std::move(cairn_try_result_).error()); \
    }                                                               \
    std::move(cairn_try_result_).value();                           \
  })

// Same, for Expected<void>.
#define CAIRN_CHECK(expr)                                             \
  do {                                                                \
    auto cairn_check_result_ = (expr);                                \
    if (!cairn_check_result_) {                                       \
      return std::unexpected(std::move(cairn_check_result_).error()); \
    }                                                                 \
  } while (0)
