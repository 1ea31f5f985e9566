// A cairn-verifier on the test machine for the attestation scenarios: it approves built test
// images from their signed measurements.json and serves on loopback, where a guest reaches it
// at 10.0.2.2 (QEMU's user network shows the test machine's loopback there).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "environment.hpp"
#include "support/background_process.hpp"

namespace cairn::qemu {

inline constexpr const char* kGuestSeesHost = "10.0.2.2";

struct TestVerifier {
  testing::BackgroundProcess process;
  std::filesystem::path db;
  std::uint16_t port = 0;
  std::filesystem::path public_key;  // the admission token's key (PEM)

  // http://10.0.2.2:PORT, as the guests reach it.
  std::string guest_url() const;
};

// Approves the test images of `versions` (their measurements.json, signed by the build's keys)
// into a database under `dir`, then serves it on 127.0.0.1 with a port it picks. The guests'
// swtpm has no EK certificate, so the verifier runs as a lab's: --allow-ek-without-certificate.
Expected<TestVerifier> start_verifier(const TestEnvironment& env, const std::filesystem::path& dir,
                                      const std::vector<std::string>& versions = {"1.0.0"});

}  // namespace cairn::qemu
