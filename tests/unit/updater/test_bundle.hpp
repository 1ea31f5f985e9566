// A version 2.0 bundle of image "t" for machine class "x86_64-t" (security version 2), written
// by the real bundle writer from the three payloads given, with a stand-in signature; and a
// verifier that accepts it (signatures are bundle_reader_test's subject).
#pragma once

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "common/bundle_writer.hpp"
#include "common/fs.hpp"

namespace cairn::updater::testing {

class AcceptingVerifier final : public SignatureVerifier {
 public:
  Expected<SignerIdentity> verify(std::string_view, std::string_view) override {
    return SignerIdentity{.subject = "CN=test"};
  }
};

class StandInSigner final : public Signer {
 public:
  Expected<std::string> sign(std::string_view) override { return std::string("signed"); }
};

struct TestPayloads {
  std::string root, verity, uki;
  std::string root_hash;  // hex
};

// Writes the bundle at `output` (the payload files go beside it).
inline void write_test_bundle(const TestPayloads& payloads, const std::filesystem::path& output) {
  auto dir = output.parent_path();
  REQUIRE(write_file_atomic(dir / "root.erofs", payloads.root));
  REQUIRE(write_file_atomic(dir / "root.verity", payloads.verity));
  REQUIRE(write_file_atomic(dir / "uki.efi", payloads.uki));
  BundleContents contents{.manifest = {.name = "t",
                                       .version = "2.0",
                                       .security_version = 2,
                                       .machine_class = "x86_64-t",
                                       .created = "2023-11-14T22:13:20Z",
                                       .root_hash = payloads.root_hash},
                          .payloads = {{"root.erofs.zst", PayloadTarget::root, dir / "root.erofs",
                                        PayloadCompression::zstd},
                                       {"root.verity", PayloadTarget::verity, dir / "root.verity"},
                                       {"uki.efi", PayloadTarget::uki, dir / "uki.efi"}}};
  StandInSigner signer;
  NullProgress progress;
  REQUIRE(write_bundle_file(contents, signer, output, progress).has_value());
}

}  // namespace cairn::updater::testing
