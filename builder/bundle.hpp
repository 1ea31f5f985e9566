// `cairn-build bundle`: an update bundle (common/bundle_writer) from a finished build — the
// zstd-compressed erofs slot, its verity tree and the UKI, the manifest signed by the signing key.
// The UKI must carry a Secure Boot signature by the db key, as hosts check at install.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

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

// What build.json says of a finished build, as far as bundles are concerned.
struct BuildSummary {
  std::string recipe;
  std::string version;  // checked: check_version
  std::string root_hash;
  std::uint64_t security_version = 1;
  std::string machine_class;
  std::int64_t source_date_epoch = 0;

  // "<recipe>_<version>": the stem of the UKI's and the default bundle's file names.
  std::string stem() const { return recipe + "_" + version; }
};
// Errc::invalid_input naming build.json when it is not a cairn-build result.
Expected<BuildSummary> read_build_summary(const std::filesystem::path& build_dir);

// Written to a temporary file beside the output and renamed into place once complete.
Expected<BundleResult> write_bundle(const BundleRequest& request, Signer& signer,
                                    Progress& progress);

}  // namespace cairn::builder
