// Deterministic seams for verifier tests: a clock the test moves, and a random source that
// remembers what it handed out (so a test knows the secret a credential protects).
#pragma once

#include <memory>
#include <vector>

#include "attest/verifier/seams.hpp"
#include "common/hash.hpp"

namespace cairn::attest::verifier::testing {

struct FakeSeams {
  std::shared_ptr<std::chrono::system_clock::time_point> now =
      std::make_shared<std::chrono::system_clock::time_point>(std::chrono::seconds(1'750'000'000));
  std::shared_ptr<std::vector<std::vector<std::uint8_t>>> drawn =
      std::make_shared<std::vector<std::vector<std::uint8_t>>>();

  Seams seams() const {
    return Seams{
        .now = [now = now] { return *now; },
        .random = [drawn = drawn](std::size_t size) -> Expected<std::vector<std::uint8_t>> {
          // Distinct per draw: SHA-256 of the draw's index, repeated.
          auto seed = sha256(std::to_string(drawn->size()));
          std::vector<std::uint8_t> bytes(size);
          for (std::size_t i = 0; i < size; ++i) bytes[i] = seed[i % seed.size()];
          drawn->push_back(bytes);
          return bytes;
        }};
  }
  void advance(std::chrono::seconds by) { *now += by; }
};

}  // namespace cairn::attest::verifier::testing
