// The verifier's two seams to the machine: the clock (nonce and enrollment expiry, token
// lifetime) and the random source (nonces, credential secrets, enrollment ids). Tests pass
// deterministic ones; production uses system_seams().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace cairn::attest::verifier {

struct Seams {
  std::function<std::chrono::system_clock::time_point()> now;
  std::function<Expected<std::vector<std::uint8_t>>(std::size_t)> random;
};

// The system clock and OpenSSL's CSPRNG (RAND_bytes).
Seams system_seams();

inline std::int64_t unix_seconds(std::chrono::system_clock::time_point when) {
  return std::chrono::duration_cast<std::chrono::seconds>(when.time_since_epoch()).count();
}

// Unix seconds as ISO 8601 UTC: "2025-06-15T14:13:20Z".
std::string iso8601_utc(std::int64_t seconds);

}  // namespace cairn::attest::verifier
