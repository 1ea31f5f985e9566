// The PKI of bundle signatures in tests: a CA in trust/ (what a host's image ships) and a
// signing key and certificate it issued (what cairn-build signs manifests with).
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <string>

#include "common/cms.hpp"
#include "common/fs.hpp"
#include "common/pki.hpp"

namespace cairn::testing {

struct BundlePki {
  TempDir dir =
      TempDir::create(std::filesystem::temp_directory_path(), "cairn-bundle-pki-").value();
  std::filesystem::path trust() const { return dir.path() / "trust"; }

  BundlePki() {
    using namespace std::chrono_literals;
    auto now = std::chrono::system_clock::now();
    auto ca_key = generate_rsa_key(2048).value();
    auto ca = issue_certificate({"Test image CA", true, now - 1h, now + 24h, 1}, ca_key.get(),
                                ca_key.get(), nullptr)
                  .value();
    auto key = generate_rsa_key(2048).value();
    auto cert = issue_certificate({"Test signing", false, now - 1h, now + 24h, 2}, key.get(),
                                  ca_key.get(), ca.get())
                    .value();
    std::filesystem::create_directories(trust());
    REQUIRE(write_certificate_pem(trust() / "ca.crt", ca.get()));
    REQUIRE(write_private_key_pem(dir.path() / "signing.key", key.get()));
    REQUIRE(write_certificate_pem(dir.path() / "signing.crt", cert.get()));
  }
  CmsSigner signer() const {
    auto signer = CmsSigner::load(dir.path() / "signing.key", dir.path() / "signing.crt");
    REQUIRE(signer.has_value());
    return std::move(*signer);
  }
  CmsVerifier verifier() const {
    auto verifier = CmsVerifier::load(trust());
    REQUIRE(verifier.has_value());
    return std::move(*verifier);
  }
};

}  // namespace cairn::testing
