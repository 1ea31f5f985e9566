// A small signed bundle for channel repositories in tests: image `name` at `version` for machine
// class x86_64-t, written by the real bundle writer into `work` (its payload files beside it);
// `root` varies the bytes.
#pragma once

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "common/bundle_writer.hpp"
#include "common/fs.hpp"

namespace cairn::fleet::testing {

inline std::filesystem::path write_sample_bundle(const std::filesystem::path& work,
                                                 const std::string& name,
                                                 const std::string& version, Signer& signer,
                                                 const std::string& root = "root bytes") {
  std::filesystem::create_directories(work);
  REQUIRE(write_file_atomic(work / "root.erofs", root));
  REQUIRE(write_file_atomic(work / "root.verity", "verity bytes"));
  REQUIRE(write_file_atomic(work / "uki.efi", "MZ uki"));
  BundleContents contents{.manifest = {.name = name,
                                       .version = version,
                                       .security_version = 2,
                                       .machine_class = "x86_64-t",
                                       .created = "2023-11-14T22:13:20Z",
                                       .root_hash = std::string(64, 'c')},
                          .payloads = {{"root.erofs.zst", PayloadTarget::root, work / "root.erofs",
                                        PayloadCompression::zstd},
                                       {"root.verity", PayloadTarget::verity, work / "root.verity"},
                                       {"uki.efi", PayloadTarget::uki, work / "uki.efi"}},
                          .mtime = 1700000000};
  NullProgress progress;
  std::filesystem::path out = work / (name + ".cairnb");
  REQUIRE(write_bundle_file(contents, signer, out, progress).has_value());
  return out;
}

}  // namespace cairn::fleet::testing
