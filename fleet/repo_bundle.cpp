#include "fleet/repo_bundle.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "common/bundle_reader.hpp"
#include "common/fs.hpp"
#include "common/hash.hpp"

namespace cairn::fleet {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kBundlesDir = "bundles";

// The whole bundle, as a host would read it: signature, every payload's size and digest, nothing
// after the end.
Expected<BundleManifest> read_whole_bundle(const fs::path& path, SignatureVerifier& trust) {
  auto fd = CAIRN_TRY(open_file(path, O_RDONLY));
  auto reader = CAIRN_TRY(BundleReader::open_fd(fd.get(), path.string()));
  auto manifest = CAIRN_TRY(reader.read_manifest(trust));
  for (std::size_t i = 0; i < manifest.payloads.size(); ++i) {
    CAIRN_TRY(reader.read_next_payload([](std::span<const std::uint8_t>) -> Status { return {}; }));
  }
  CAIRN_CHECK(reader.finish());
  return manifest;
}

Status copy_synced(const fs::path& source, const fs::path& target) {
  auto fd = CAIRN_TRY(open_file(target, O_WRONLY | O_CREAT | O_EXCL, 0644));
  Status copied = copy_into(source, target, 0);
  if (copied && ::fsync(fd.get()) != 0) copied = fail_errno("fsync " + target.string(), errno);
  if (!copied) ::unlink(target.c_str());
  return copied;
}

}  // namespace

Expected<BundleManifest> read_bundle_manifest(const fs::path& path, SignatureVerifier& trust) {
  auto fd = CAIRN_TRY(open_file(path, O_RDONLY));
  auto reader = CAIRN_TRY(BundleReader::open_fd(fd.get(), path.string()));
  return reader.read_manifest(trust);
}

Expected<StagedBundle> StagedBundle::stage(const fs::path& source, const fs::path& bundles_dir,
                                           const BundleManifest& expected,
                                           SignatureVerifier& trust) {
  // Both parts were checked by the manifest's parser: a plain name and a version (no '/').
  std::string file = expected.name + "_" + expected.version + ".cairnb";
  StagedBundle staged;
  staged.published_ = bundles_dir / file;
  fs::path temp = bundles_dir / ("." + file + ".tmp-" + std::to_string(::getpid()));
  CAIRN_CHECK(with_context(copy_synced(source, temp), "copying the bundle"));
  staged.temp_ = temp;  // from here on the destructor removes it
  // Read back from the copy, not the source: what was checked is what hosts will download, even
  // if the source changed while it was copied.
  auto manifest = CAIRN_TRY(
      with_context(read_whole_bundle(staged.temp_, trust), "reading back the copied bundle"));
  if (to_json(manifest) != to_json(expected)) {
    return fail(Errc::integrity, source.string() + " changed while it was copied");
  }
  staged.ref_ = {.path = std::string(kBundlesDir) + "/" + file,
                 .size = CAIRN_TRY(cairn::file_size(staged.temp_)),
                 .sha256 = to_hex(CAIRN_TRY(sha256_file(staged.temp_)))};
  struct stat st {};
  if (::lstat(staged.published_.c_str(), &st) == 0) {
    bool same = S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) == staged.ref_.size &&
                to_hex(CAIRN_TRY(sha256_file(staged.published_))) == staged.ref_.sha256;
    if (!same) {
      return fail(Errc::invalid_input, staged.ref_.path +
                                           " is published already with other contents: a published "
                                           "bundle is never replaced (publish a new version)");
    }
    staged.copied_ = false;
    ::unlink(staged.temp_.c_str());
    staged.temp_.clear();
  } else if (errno != ENOENT) {
    return fail_errno("stat " + staged.published_.string(), errno);
  }
  return staged;
}

StagedBundle::StagedBundle(StagedBundle&& other) noexcept
    : temp_(std::exchange(other.temp_, {})),
      published_(std::exchange(other.published_, {})),
      ref_(std::move(other.ref_)),
      copied_(other.copied_),
      committed_(std::exchange(other.committed_, false)) {}

StagedBundle::~StagedBundle() {
  if (!temp_.empty() && !committed_) ::unlink(temp_.c_str());  // best effort
}

Status StagedBundle::commit() {
  if (!copied_ || committed_) return {};
  // RENAME_NOREPLACE: a file that appeared under the published name since stage() looked (a
  // publisher ignoring the lock) is not replaced.
  if (::renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, published_.c_str(), RENAME_NOREPLACE) != 0) {
    return fail_errno("rename " + temp_.string() + " to " + published_.string(), errno);
  }
  committed_ = true;
  return fsync_directory(published_.parent_path());
}

void StagedBundle::undo() {
  if (!copied_ || !committed_) return;
  if (::unlink(published_.c_str()) == 0) (void)fsync_directory(published_.parent_path());
  committed_ = false;
  temp_.clear();
}

}  // namespace cairn::fleet
