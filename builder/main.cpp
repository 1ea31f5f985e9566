// cairn-build: recipe → signed, reproducible A/B hypervisor disk image.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include "builder/keys.hpp"
#include "builder/pipeline.hpp"
#include "builder/terminal_progress.hpp"

namespace {

using namespace cairn;
using namespace cairn::builder;

// Exit codes (documented in README): 0 ok, 1 bad input, 2 usage, 3 environment (not root, no
// space, missing tool or key), 4 a build step failed, 5 verification failed.
int exit_code_for(const Error& error) {
  switch (error.code()) {
    case Errc::invalid_input: return 1;
    case Errc::not_found: return 1;
    case Errc::permission:
    case Errc::no_space:
    case Errc::unavailable:
    case Errc::busy: return 3;
    case Errc::integrity:
    case Errc::crypto: return 5;
    default: return 4;
  }
}

int report_error(const Error& error, bool json) {
  if (json) {
    nlohmann::json out = {{"ok", false},
                          {"error", {{"code", std::string(errc_name(error.code()))},
                                     {"message", error.describe()}}}};
    std::cout << out.dump(2) << "\n";
  }
  std::fprintf(stderr, "cairn-build: error: %s\n", error.describe().c_str());
  return exit_code_for(error);
}

// $SOURCE_DATE_EPOCH, else the time of the project's last git commit (so two builds of the same
// checkout agree), else now.
std::int64_t default_epoch(ProcessRunner& runner) {
  if (const char* env = std::getenv("SOURCE_DATE_EPOCH"); env && *env) {
    return std::strtoll(env, nullptr, 10);
  }
  auto git = run_checked(runner, {.argv = {"git", "-C", data_dir().string(), "log", "-1",
                                           "--format=%ct"},
                                  .capture_stdout = true});
  if (git && !git->empty()) return std::strtoll(git->c_str(), nullptr, 10);
  return static_cast<std::int64_t>(std::time(nullptr));
}

void print_build_summary(const BuildResult& result) {
  std::fprintf(stderr, "\nBuilt %s %s (commit %.12s, root hash %.16s…)\n", result.recipe.c_str(),
               result.version.c_str(), result.commit.c_str(), result.root_hash.c_str());
  for (const auto& artifact : result.artifacts) {
    std::fprintf(stderr, "  %-12s %-60s %10s  sha256:%s\n", artifact.role.c_str(),
                 artifact.path.c_str(), human_size(artifact.size).c_str(),
                 artifact.sha256.c_str());
  }
  double total = 0;
  for (const auto& stage : result.stages) total += stage.seconds;
  std::fprintf(stderr, "  total %.1f s\n", total);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cairn-build: build signed, reproducible A/B hypervisor host images"};
  app.require_subcommand(1);
  app.fallthrough();  // --json and -v work after the subcommand too
  bool json = false, verbose = false;
  app.add_flag("--json", json, "print the result as JSON on stdout");
  app.add_flag("-v,--verbose", verbose, "show every line the tools print");

  SystemProcessRunner runner;
  BuildOptions build;
  build.source_date_epoch = default_epoch(runner);
  std::string stop_after;
  bool no_cache = false;
  auto* build_cmd = app.add_subcommand("build", "build a golden image from a recipe");
  build_cmd->add_option("recipe", build.recipe, "recipe file (recipes/*.toml)")->required();
  build_cmd->add_option("-o,--out", build.out_dir, "output directory")->capture_default_str();
  build_cmd->add_option("-k,--keys", build.keys_dir, "key directory made by `cairn-build keys`")
      ->default_str("<out>/keys");
  build_cmd->add_option("--source-date-epoch", build.source_date_epoch,
                        "timestamp for reproducible output (default: $SOURCE_DATE_EPOCH, else the last git commit's time)");
  build_cmd->add_flag("--no-cache", no_cache, "rebuild the root file system even if cached");
  build_cmd->add_option("--stop-after", stop_after, "stop after this stage (debugging)")
      ->check(CLI::IsMember(stage_names()));

  std::filesystem::path keys_dir = "out/keys";
  bool force = false;
  auto* keys_cmd = app.add_subcommand(
      "keys", "create a development PKI: Secure Boot PK/KEK/db, image CA and signing certificate");
  keys_cmd->add_option("-d,--dir", keys_dir, "where to write the keys")->capture_default_str();
  keys_cmd->add_flag("--force", force, "replace existing keys");

  CLI11_PARSE(app, argc, argv);

  TerminalProgress progress(stderr, verbose, false);
  if (build_cmd->parsed()) {
    if (build.keys_dir.empty()) build.keys_dir = build.out_dir / "keys";
    build.use_tree_cache = !no_cache;
    if (!stop_after.empty()) build.stop_after = stop_after;
    auto result = build_image(build, runner, progress);
    if (!result) return report_error(result.error(), json);
    if (json) std::cout << result->to_json().dump(2) << "\n";
    print_build_summary(*result);
    return 0;
  }
  if (keys_cmd->parsed()) {
    auto keys = create_dev_pki(keys_dir, {.force = force}, runner);
    if (!keys) return report_error(keys.error(), json);
    if (json) {
      std::cout << nlohmann::json{{"dir", keys->dir.string()},
                                  {"trust", keys->trust_dir.string()}}.dump(2)
                << "\n";
    }
    std::fprintf(stderr,
                 "Development keys written to %s (private keys 0600; only trust/ goes into "
                 "images).\nThese keys are for development and tests: make production keys "
                 "offline.\n",
                 keys->dir.c_str());
    return 0;
  }
  return 2;
}
