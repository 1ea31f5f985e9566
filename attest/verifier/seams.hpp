// The verifier's two seams to the machine: the clock (nonce and enrollment expiry, token
// lifetime) and the random source (nonces, credential secrets, enrollment ids). Tests pass
// deterministic ones; production uses system_seams().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
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

}  // namespace cairn::attest::verifier
