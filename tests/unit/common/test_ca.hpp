// A throwaway certificate authority for tests: a 2048-bit RSA key and its self-signed CA
// certificate, valid from an hour ago for a day.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <utility>

#include "common/pki.hpp"

namespace cairn::testing {

struct TestCa {
  EvpPkeyPtr key;
  X509Ptr cert;
};

inline TestCa make_test_ca(const std::string& name) {
  using namespace std::chrono_literals;
  auto now = std::chrono::system_clock::now();
  auto key = generate_rsa_key(2048);
  REQUIRE(key.has_value());
  auto cert = issue_certificate(
      {.common_name = name, .is_ca = true, .not_before = now - 1h, .not_after = now + 24h},
      key->get(), key->get(), nullptr);
  REQUIRE(cert.has_value());
  return {std::move(*key), std::move(*cert)};
}

}  // namespace cairn::testing
