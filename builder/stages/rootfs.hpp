// Stage 1: the Debian root file system, made by mmdebstrap from real packages. Downloads are
// cached between builds (out/cache/debs), and whole trees are cached by a key that includes
// the mirrors' current InRelease digests, so a mirror update invalidates the cache by itself.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "builder/apt_sources.hpp"
#include "common/process.hpp"
#include "common/progress.hpp"

namespace cairn::builder {

struct RootfsInput {
  std::vector<AptSource> sources;
  std::string suite;
  std::vector<std::string> packages;
  std::int64_t source_date_epoch = 0;
  std::filesystem::path cache_dir;  // holds debs/ and rootfs/<key>/
  std::string mirror_state;         // digest of the mirrors' InRelease files ("" = unknown)
  bool use_tree_cache = true;
};

struct RootfsOutput {
  std::filesystem::path tree;  // read-only by convention: customize works on a copy
  std::string cache_key;
  bool from_cache = false;
};

// The mmdebstrap argument list (exposed for tests).
std::vector<std::string> mmdebstrap_argv(const RootfsInput& input,
                                         const std::filesystem::path& target);

// The cache key: everything that decides the tree's content.
std::string rootfs_cache_key(const RootfsInput& input);

Expected<RootfsOutput> build_rootfs(const RootfsInput& input, ProcessRunner& runner,
                                    Progress& progress);

// Reads mmdebstrap/apt's stderr for the package apt could not find, if any.
std::string unknown_package_in(std::string_view apt_output);

// sha256 over the InRelease files of all sources (fails naming an unreachable mirror).
Expected<std::string> fetch_mirror_state(const std::vector<AptSource>& sources,
                                         long timeout_seconds);

}  // namespace cairn::builder
