// `cairn-build bundle`: an update bundle (common/bundle_writer) from a finished build — the
// zstd-compressed erofs slot, its verity tree and the UKI, the manifest signed by the signing key.
// The UKI must carry a Secure Boot signature by the db key, as hosts check at install.
#pragma once

#include <filesystem>

#include "common/manifest.hpp"
#include "common/progress.hpp"
#include "common/signer.hpp"

namespace cairn::builder {

struct BundleRequest {
  std::filesystem::path build_dir;  // out/<recipe>/<version>/ (has build.json)
  std::filesystem::path output;     // empty: <build_dir>/<recipe>_<version>.cairnb
  std::filesystem::path db_cert;    // the Secure Boot db certificate the image ships (trust/db.crt)
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
