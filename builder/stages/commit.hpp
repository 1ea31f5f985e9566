// Stage 3: the customized tree becomes an OSTree commit in the archive repo out/repo — the
// history of every golden image (dedup, diff between versions, delta source). The ref moves
// only when the whole build succeeded (see the finalize step), never here.
//
// For speed the commit is first written to a bare staging repo (no compression; the slot is
// checked out from there), and copied into the archive repo on a second thread while the
// later stages run. The commit object, hence its checksum, is the same in both.
#pragma once

#include <cstdint>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "common/progress.hpp"
#include "common/signer.hpp"

namespace cairn::builder {

// Detached-metadata key (type `ay`) holding the DER CMS signature. The signed bytes are the
// commit checksum as 64 lowercase ASCII hex characters, no newline: the checksum names the
// commit object, which names the tree (contents, modes, owners, xattrs), metadata and parent.
inline constexpr const char* kCommitSignatureKey = "cairn.signature";
// Commit metadata keys ("version" is OSTree's own).
inline constexpr const char* kVersionKey = "version";
inline constexpr const char* kRecipeDigestKey = "cairn.recipe-digest";
inline constexpr const char* kPackagesKey = "cairn.packages";  // `as` of "name=version"

struct CommitInput {
  std::filesystem::path repo;          // the archive repo (out/repo)
  std::filesystem::path staging_repo;  // a bare repo (out/cache/staging-repo)
  std::filesystem::path tree;
  std::string ref;  // "cairn/<recipe>/x86_64": its head becomes the parent
  std::string version, recipe_digest;
  std::vector<std::string> packages;  // "name=version"
  std::int64_t source_date_epoch = 0;
  Signer* signer = nullptr;  // null: unsigned
  // The tree is deleted while committed, and its files are renamed into the staging repo
  // instead of copied (see ostree::CommitRequest::consume). Only for a throwaway tree.
  bool consume_tree = false;
};

struct CommitOutput {
  std::string checksum;
  std::string tree_checksum;  // the tree alone (see ostree::CommitStats)
  bool is_signed = false;
  std::uint64_t files_written = 0;
  std::uint64_t dev_entries_left_out = 0;  // /dev is committed empty
  // Completes when the commit (and its signature) is in the archive repo.
  std::shared_future<Status> archived;
};

Expected<CommitOutput> commit_tree_to_repo(const CommitInput& input, Progress& progress);

// Moves `ref` to `checksum` (called once every later stage succeeded).
Status publish_ref(const std::filesystem::path& repo, const std::string& ref,
                   const std::string& checksum);

// Checks out `checksum` from `repo` (the staging repo during a build) into `destination`, with
// ownership kept.
Status checkout_commit(const std::filesystem::path& repo, const std::string& checksum,
                       const std::filesystem::path& destination, bool link_to_repo = false);

}  // namespace cairn::builder
