// A thin, owning C++ face on libostree: open/create an archive repo, commit a directory with
// metadata, detached metadata (signatures), refs, checkout, history and diff.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"

typedef struct OstreeRepo OstreeRepo;
typedef struct _GVariant GVariant;

namespace cairn::ostree {

struct GObjectDeleter {
  void operator()(void* object) const;
};
struct GVariantDeleter {
  void operator()(GVariant* variant) const;
};
using RepoPtr = std::unique_ptr<OstreeRepo, GObjectDeleter>;
using VariantPtr = std::unique_ptr<GVariant, GVariantDeleter>;

enum class RepoMode { archive, bare };

// Opens `path`, creating a repo of `mode` there when it does not exist yet and `create` is set.
Expected<RepoPtr> open_repo(const std::filesystem::path& path, bool create,
                            RepoMode mode = RepoMode::archive);

// Copies one commit (and its tree, not its parents) from the repo at `source` into `repo`.
Status pull_commit(OstreeRepo* repo, const std::filesystem::path& source,
                   const std::string& checksum);

struct CommitRequest {
  std::filesystem::path tree;
  std::optional<std::string> parent;
  std::string subject;
  VariantPtr metadata;  // a{sv}; ownership passes to the commit
  std::uint64_t timestamp = 0;
  // Deletes the input tree while committing it. A bare repo on the same file system then adopts
  // each unchanged regular file (rename into the object store) instead of copying it.
  bool consume = false;
  // Called with the number of files (and symlinks) seen so far, every kProgressInterval.
  std::function<void(std::uint64_t files)> on_progress;
};

inline constexpr std::uint64_t kProgressInterval = 5000;

struct CommitStats {
  std::uint64_t files_written = 0, content_bytes_written = 0;
  std::uint64_t files_seen = 0;  // regular files and symlinks, new or not
  // Entries directly in /dev, left out: see commit_tree.
  std::uint64_t dev_entries_left_out = 0;
  // "<root contents checksum>-<root metadata checksum>": names the tree alone, independent of
  // the commit's parent, time and metadata.
  std::string tree_checksum;
};

// Writes the tree and the commit object (not a ref); returns the commit checksum. Ownership, modes
// and xattrs are committed as they are on disk. /dev is committed empty (devtmpfs is mounted
// over it at boot; its device nodes are counted in stats). OSTree stores only directories,
// regular files and symlinks: a device node, socket or FIFO anywhere else is an error naming it
// — silently dropping a file from an image would hide a build bug.
Expected<std::string> commit_tree(OstreeRepo* repo, CommitRequest request, CommitStats* stats);

Status write_detached_metadata(OstreeRepo* repo, const std::string& checksum, VariantPtr metadata);
// Null VariantPtr when there is none.
Expected<VariantPtr> read_detached_metadata(OstreeRepo* repo, const std::string& checksum);

Status set_ref(OstreeRepo* repo, const std::string& ref, const std::string& checksum);
// nullopt when the ref does not exist.
Expected<std::optional<std::string>> resolve(OstreeRepo* repo, const std::string& rev);

struct CommitInfo {
  std::string checksum;
  std::optional<std::string> parent;
  std::uint64_t timestamp = 0;
  std::string subject;
  VariantPtr metadata;  // a{sv}
};
Expected<CommitInfo> load_commit(OstreeRepo* repo, const std::string& checksum);

// Metadata helpers on an a{sv} variant.
std::optional<std::string> metadata_string(GVariant* metadata, const char* key);
std::vector<std::string> metadata_strings(GVariant* metadata, const char* key);
std::optional<std::string> metadata_bytes(GVariant* metadata, const char* key);

// Checks out `checksum` into `destination` (which must not exist), keeping ownership. With
// `link_to_repo` (bare repos only) files are hard links to the repo's objects: instant, but the
// checkout must then never be written to.
Status checkout(OstreeRepo* repo, const std::string& checksum,
                const std::filesystem::path& destination, bool link_to_repo = false);

struct TreeDiff {
  std::vector<std::string> added, removed, modified;  // absolute paths in the image
};
Expected<TreeDiff> diff_commits(OstreeRepo* repo, const std::string& from, const std::string& to);

}  // namespace cairn::ostree
