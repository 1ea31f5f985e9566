// Catch2 glue: unwrap an Expected or fail the test with its error.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "common/error.hpp"

namespace cairn::qemu {

template <class T>
T require(Expected<T> result) {
  if (!result) FAIL(result.error().describe());
  return std::move(*result);
}

// Guest output without its trailing newlines and spaces.
inline std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

inline void require(Status status) {
  if (!status) FAIL(status.error().describe());
}

// Seconds of wall time since `start`, for the timings the scenarios print.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace cairn::qemu
