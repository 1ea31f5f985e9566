// Catch2 glue for the scenarios: require() (an Expected or a failed test), output trimming, timing.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "common/error.hpp"
#include "support/require.hpp"

namespace cairn::qemu {

using testing::require;

// Guest output without its trailing newlines and spaces.
inline std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Seconds of wall time since `start`, for the timings the scenarios print.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace cairn::qemu
