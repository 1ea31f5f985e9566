#include "attest/verifier/seams.hpp"

#include <openssl/rand.h>

#include <ctime>

#include "common/openssl.hpp"

namespace cairn::attest::verifier {

Seams system_seams() {
  return Seams{
      .now = [] { return std::chrono::system_clock::now(); },
      .random = [](std::size_t size) -> Expected<std::vector<std::uint8_t>> {
        std::vector<std::uint8_t> bytes(size);
        if (RAND_bytes(bytes.data(), static_cast<int>(size)) != 1) {
          return fail_openssl(Errc::crypto, "drawing random bytes");
        }
        return bytes;
      },
  };
}

std::string iso8601_utc(std::int64_t seconds) {
  std::time_t when = seconds;
  std::tm tm{};
  gmtime_r(&when, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

}  // namespace cairn::attest::verifier
