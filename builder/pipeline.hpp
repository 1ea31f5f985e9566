// `cairn-build build`: the stages in order, each timed, in a temporary directory under out/ that
// is renamed into place only when everything succeeded (out/ never holds a partial artifact).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "builder/recipe.hpp"
#include "common/process.hpp"
#include "common/progress.hpp"

namespace cairn::builder {

struct BuildOptions {
  std::filesystem::path recipe;
  std::filesystem::path out_dir = "out";
  std::filesystem::path keys_dir;  // from `cairn-build keys`
  std::int64_t source_date_epoch = 0;
  bool use_tree_cache = true;             // reuse a cached rootfs tree when the key matches
  std::optional<std::string> stop_after;  // a stage name, for debugging a pipeline
};

struct StageTiming {
  std::string name;
  double seconds = 0;
};

struct Artifact {
  std::string role;  // "disk-image", "slot-root", "slot-verity", "uki", …
  std::filesystem::path path;
  std::uint64_t size = 0;
  std::string sha256;
};

struct BuildResult {
  std::string recipe, version, machine_class;
  std::uint64_t security_version = 1;
  std::string commit, ref, root_hash, kernel_version;
  std::int64_t source_date_epoch = 0;
  bool rootfs_from_cache = false;
  std::vector<StageTiming> stages;
  std::vector<Artifact> artifacts;
  std::filesystem::path output_dir;  // out/<recipe>/<version>; the work tree after --stop-after
  std::string stopped_after;         // the --stop-after stage; empty for a complete build
  std::filesystem::path tree;        // with stopped_after: the root file system tree it left

  nlohmann::json to_json() const;
};

// The stage names, in order.
const std::vector<std::string>& stage_names();

// Fails unless running as root (checked right after the recipe is read).
Status require_root();

// Checks that can fail before any work starts: tools and disk space.
Status preflight(const BuildOptions& options, const Recipe& recipe);

Expected<BuildResult> build_image(const BuildOptions& options, ProcessRunner& runner,
                                  Progress& progress);

}  // namespace cairn::builder
