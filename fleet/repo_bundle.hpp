// A bundle on its way into a repository's bundles/: copied under a hidden temporary name, read
// back in full and hashed there (the bytes hosts will download are the bytes checked), then
// renamed to its published name once the index naming it is signed.
#pragma once

#include <filesystem>

#include "common/manifest.hpp"
#include "common/signer.hpp"
#include "fleet/channel_index.hpp"

namespace cairn::fleet {

// The manifest of the bundle at `path`, its signature checked against `trust`; only the first
// two members are read.
Expected<BundleManifest> read_bundle_manifest(const std::filesystem::path& path,
                                              SignatureVerifier& trust);

class StagedBundle {
 public:
  // Copies `source` into `bundles_dir` as <name>_<version>.cairnb-to-be and reads the copy back:
  // its manifest must be `expected` (the source's, checked before) and every payload must match
  // it. A file of the published name already there is reused if it has the same bytes and an
  // error (Errc::invalid_input) otherwise: a published bundle is never replaced.
  static Expected<StagedBundle> stage(const std::filesystem::path& source,
                                      const std::filesystem::path& bundles_dir,
                                      const BundleManifest& expected, SignatureVerifier& trust);
  StagedBundle(StagedBundle&& other) noexcept;
  StagedBundle& operator=(StagedBundle&&) = delete;
  StagedBundle(const StagedBundle&) = delete;
  ~StagedBundle();  // removes the temporary copy unless committed

  // "bundles/<file>", size and sha256 of the staged bytes.
  const BundleRef& ref() const { return ref_; }
  const std::filesystem::path& published_path() const { return published_; }
  // False when an identical file was published already (nothing to rename).
  bool copied() const { return copied_; }

  // Renames the copy to its published name (never over a file that appeared meanwhile).
  Status commit();
  // After commit: removes the file commit published, when the index naming it was not written.
  void undo();

 private:
  StagedBundle() = default;
  std::filesystem::path temp_, published_;
  BundleRef ref_;
  bool copied_ = true;
  bool committed_ = false;
};

}  // namespace cairn::fleet
