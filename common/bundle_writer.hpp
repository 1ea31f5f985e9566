// Writing an update bundle (DESIGN.md "Update bundle", format 1), the counterpart of
// bundle_reader: a pax tar holding manifest.json, manifest.sig (a detached signature over the
// manifest's bytes) and the payloads in manifest order, each member with the same mtime so that
// the same inputs give the same bytes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/manifest.hpp"
#include "common/progress.hpp"
#include "common/signer.hpp"

namespace cairn {

// A payload's source: a file, stored as it is or zstd-compressed into the archive.
struct BundlePayloadFile {
  std::string name;  // tar member name (is_safe_member_name)
  PayloadTarget target = PayloadTarget::root;
  std::filesystem::path file;
  PayloadCompression compression = PayloadCompression::none;
};

struct BundleContents {
  BundleManifest manifest;  // all but `payloads`, which the writer fills in from the files
  std::vector<BundlePayloadFile> payloads;  // in archive order
  std::int64_t mtime = 0;                   // of every member (SOURCE_DATE_EPOCH)
  int zstd_level = 3;
};

// Hashes (and compresses) the payloads, checks that the manifest parses back, signs it, and
// writes the archive to a temporary file beside `output` (a bare file name: the current
// directory), renamed into place once complete and synced. Reports under `stage`. Returns the
// manifest as signed.
Expected<BundleManifest> write_bundle_file(const BundleContents& contents, Signer& signer,
                                           const std::filesystem::path& output, Progress& progress,
                                           std::string_view stage = "bundle");

}  // namespace cairn
