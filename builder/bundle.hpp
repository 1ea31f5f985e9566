// `cairn-build bundle`: an update bundle (DESIGN.md "Update bundle", format 1) from a finished
// build — a tar written with libarchive holding manifest.json, manifest.sig (detached CMS by the
// signing key) and the payloads: the zstd-compressed erofs slot, its verity tree and the UKI.
#pragma once

#include <filesystem>

#include "common/manifest.hpp"
#include "common/progress.hpp"
#include "common/signer.hpp"

namespace cairn::builder {

struct BundleRequest {
  std::filesystem::path build_dir;  // out/<recipe>/<version>/ (has build.json)
  std::filesystem::path output;     // empty: <build_dir>/<recipe>_<version>.cairnb
  int zstd_level = 3;
};

struct BundleResult {
  std::filesystem::path path;
  BundleManifest manifest;
  std::uint64_t size = 0;
};

// Written to a temporary file beside the output and renamed into place once complete.
Expected<BundleResult> write_bundle(const BundleRequest& request, Signer& signer,
                                    Progress& progress);

}  // namespace cairn::builder
