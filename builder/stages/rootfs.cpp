#include "builder/stages/rootfs.hpp"

#include <algorithm>
#include <chrono>
#include <regex>

#include "common/fs.hpp"
#include "common/hash.hpp"

namespace cairn::builder {

namespace fs = std::filesystem;

namespace {

// Documentation and translations are not needed on a hypervisor host: less to store, verify
// and audit. Copyright files stay (licence compliance).
const std::vector<std::string> kDpkgExcludes = {
    "path-exclude=/usr/share/doc/*",     "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",     "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",  "path-include=/usr/share/locale/locale.alias",
    "path-exclude=/usr/share/lintian/*", "path-exclude=/usr/share/linda/*",
};

// Each cached tree is ~1 GB: keep the few most recently used ones (other recipes, the previous
// mirror state) and drop the rest.
void prune_tree_cache(const fs::path& rootfs_cache, std::size_t keep) {
  std::vector<std::pair<fs::file_time_type, fs::path>> trees;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(rootfs_cache, ec)) {
    if (entry.path().filename().string().starts_with(".")) continue;
    trees.emplace_back(fs::last_write_time(entry.path(), ec), entry.path());
  }
  std::sort(trees.rbegin(), trees.rend());
  for (std::size_t i = keep; i < trees.size(); ++i) fs::remove_all(trees[i].second, ec);
}

}  // namespace

std::vector<std::string> mmdebstrap_argv(const RootfsInput& input, const fs::path& target) {
  std::string debs = (input.cache_dir / "debs").string();
  std::vector<std::string> argv = {"mmdebstrap", "--mode=root", "--variant=essential",
                                   "--format=directory", "--skip=essential/unlink"};
  std::vector<std::string> packages = input.packages;
  std::sort(packages.begin(), packages.end());
  std::string include = "--include=";
  for (std::size_t i = 0; i < packages.size(); ++i) include += (i ? "," : "") + packages[i];
  argv.push_back(include);
  for (const auto& option : kDpkgExcludes) argv.push_back("--dpkgopt=" + option);
  argv.push_back("--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/");
  argv.push_back("--setup-hook=sync-in " + debs + " /var/cache/apt/archives/");
  argv.push_back("--customize-hook=sync-out /var/cache/apt/archives " + debs);
  argv.push_back(input.suite);
  argv.push_back(target.string());
  for (const auto& source : input.sources) argv.push_back(source.line());
  return argv;
}

std::string rootfs_cache_key(const RootfsInput& input) {
  Sha256 hasher;
  for (const auto& arg : mmdebstrap_argv(input, "TARGET")) {
    if (arg.find(input.cache_dir.string()) != std::string::npos) continue;  // path-independent
    hasher.update(arg);
    hasher.update(std::string_view("\0", 1));
  }
  hasher.update(std::to_string(input.source_date_epoch));
  hasher.update(input.mirror_state);
  auto digest = hasher.finish();
  return to_hex(digest).substr(0, 24);
}

std::string unknown_package_in(std::string_view apt_output) {
  static const std::regex kPatterns(
      "(?:Unable to locate package |Package '?)([a-z0-9][a-z0-9+.-]+)'?(?: has no installation "
      "candidate)?");
  std::string text(apt_output);
  for (std::sregex_iterator it(text.begin(), text.end(), kPatterns), end; it != end; ++it) {
    std::string line = it->str();
    if (line.starts_with("Unable to locate") ||
        line.find("has no installation") != std::string::npos) {
      return (*it)[1];
    }
  }
  return {};
}

Expected<std::string> fetch_mirror_state(const std::vector<AptSource>& sources,
                                         long timeout_seconds) {
  Sha256 hasher;
  for (const auto& source : sources) {
    auto body = CAIRN_TRY(fetch_in_release(source, timeout_seconds));
    hasher.update(source.line());
    hasher.update(body);
  }
  auto digest = hasher.finish();
  return to_hex(digest);
}

Expected<RootfsOutput> build_rootfs(const RootfsInput& input, ProcessRunner& runner,
                                    Progress& progress) {
  RootfsOutput output;
  output.cache_key = rootfs_cache_key(input);
  fs::path cached = input.cache_dir / "rootfs" / output.cache_key;
  std::error_code ec;
  if (input.use_tree_cache && fs::is_directory(cached / "usr", ec)) {
    progress.stage_detail("rootfs", "reusing cached tree " + output.cache_key);
    output.tree = cached;
    output.from_cache = true;
    fs::last_write_time(cached, fs::file_time_type::clock::now(), ec);  // recently used
    return output;
  }
  fs::create_directories(input.cache_dir / "debs", ec);
  // mmdebstrap writes into a temp dir beside the cache entry; only a finished tree is renamed
  // into place, so an interrupted build never leaves a half tree that looks cached.
  auto temp = CAIRN_TRY(TempDir::create(input.cache_dir / "rootfs", ".partial-"));
  fs::path target = temp.path() / "tree";
  Command command{.argv = mmdebstrap_argv(input, target)};
  command.env = {{"SOURCE_DATE_EPOCH", std::to_string(input.source_date_epoch)}};
  command.on_stderr_line = [&](std::string_view line) { progress.stage_detail("rootfs", line); };
  auto result = CAIRN_TRY(runner.run(command));
  if (result.exit_code != 0) {
    if (auto package = unknown_package_in(result.stderr_tail); !package.empty()) {
      return fail(Errc::not_found, "unknown package '" + package + "': not in suite '" +
                                       input.suite + "' of the configured mirrors");
    }
    return fail(Errc::process, "mmdebstrap failed (status " + std::to_string(result.exit_code) +
                                   "):\n" + result.stderr_tail);
  }
  fs::remove_all(cached, ec);
  fs::rename(target, cached, ec);
  if (ec)
    return fail(Errc::io,
                "rename " + target.string() + " to " + cached.string() + ": " + ec.message());
  output.tree = cached;
  fs::last_write_time(cached, fs::file_time_type::clock::now(), ec);  // newest for pruning
  prune_tree_cache(input.cache_dir / "rootfs", 3);
  return output;
}

}  // namespace cairn::builder
