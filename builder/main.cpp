// cairn-build: recipe → signed, reproducible A/B hypervisor disk image.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include "builder/audit/audit.hpp"
#include "builder/bundle.hpp"
#include "builder/history.hpp"
#include "builder/image_inspect.hpp"
#include "builder/keys.hpp"
#include "builder/pipeline.hpp"
#include "builder/publish.hpp"
#include "builder/terminal_progress.hpp"
#include "common/cli_errors.hpp"
#include "common/cli_parse.hpp"
#include "common/cms.hpp"
#include "common/fs.hpp"

namespace {

using namespace cairn;
using namespace cairn::builder;

int report_error(const Error& error, bool json) {
  return cairn::report_error("cairn-build", error, json);
}

// $SOURCE_DATE_EPOCH, else the time of the project's last git commit (so two builds of the same
// checkout agree), else now.
std::int64_t default_epoch(ProcessRunner& runner) {
  if (const char* env = std::getenv("SOURCE_DATE_EPOCH"); env && *env) {
    return std::strtoll(env, nullptr, 10);
  }
  auto git =
      run_checked(runner, {.argv = {"git", "-C", data_dir().string(), "log", "-1", "--format=%ct"},
                           .capture_stdout = true});
  if (git && !git->empty()) return std::strtoll(git->c_str(), nullptr, 10);
  return static_cast<std::int64_t>(std::time(nullptr));
}

// What a build stopped by --stop-after left: only what exists, and where.
void print_stopped_summary(const BuildResult& result) {
  std::fprintf(stderr, "\nStopped %s %s after stage %s (--stop-after); nothing was published.\n",
               result.recipe.c_str(), result.version.c_str(), result.stopped_after.c_str());
  std::fprintf(stderr, "  work tree     %s (removed by the next build)\n",
               result.output_dir.c_str());
  std::fprintf(stderr, "  root tree     %s\n", result.tree.c_str());
  if (!result.commit.empty()) {
    std::fprintf(stderr, "  commit        %s (ref %s not moved)\n", result.commit.c_str(),
                 result.ref.c_str());
  }
  if (!result.root_hash.empty()) {
    std::fprintf(stderr, "  root hash     %s\n", result.root_hash.c_str());
  }
}

void print_build_summary(const BuildResult& result) {
  if (!result.stopped_after.empty()) return print_stopped_summary(result);
  std::fprintf(stderr, "\nBuilt %s %s (commit %.12s, root hash %.16s…)\n", result.recipe.c_str(),
               result.version.c_str(), result.commit.c_str(), result.root_hash.c_str());
  for (const auto& artifact : result.artifacts) {
    std::fprintf(stderr, "  %-12s %-60s %10s  sha256:%s\n", artifact.role.c_str(),
                 artifact.path.c_str(), human_size(artifact.size).c_str(), artifact.sha256.c_str());
  }
  double total = 0;
  for (const auto& stage : result.stages) total += stage.seconds;
  std::fprintf(stderr, "  total %.1f s\n", total);
}

// OSTree refs ("cairn/kvm-host/x86_64") and commit checksums never start with '/' or '.', nor
// end like a disk image: such a target is a file even when it does not exist, and is reported
// as missing rather than as a bad ref.
bool names_a_file(std::string_view target) {
  return target.starts_with('/') || target.starts_with('.') || target.ends_with(".img") ||
         target.ends_with(".raw");
}

int run_inspect(const std::string& target, const std::filesystem::path& out,
                std::filesystem::path keys, bool json, ProcessRunner& runner) {
  namespace fs = std::filesystem;
  if (keys.empty()) keys = out / "keys";
  std::error_code ec;
  bool directory = fs::is_directory(target, ec);
  fs::path image = directory ? fs::path(target) / "disk.img" : fs::path(target);
  if (directory || fs::exists(fs::symlink_status(image, ec)) || names_a_file(target)) {
    fs::path db_cert = keys / "trust/db.crt";
    if (!fs::exists(db_cert, ec)) db_cert.clear();
    auto report = inspect_disk_image(image, db_cert, runner);
    if (!report) return report_error(report.error(), json);
    if (json) {
      std::cout << report->to_json().dump(2) << "\n";
    } else {
      std::printf("%s: GPT disk %s\n", image.c_str(), report->disk.disk_guid.c_str());
      for (const auto& part : report->disk.partitions) {
        std::printf("  %zu %-24s %10s  %s%s\n", part.number, part.label.c_str(),
                    human_size(part.size_bytes).c_str(), part.uuid.c_str(),
                    (part.attributes & kGptReadOnlyAttribute) ? "  read-only" : "");
      }
      for (const auto& entry : report->entries) {
        std::printf("  boot entry %s: version %s, signature %s, verity %s\n  root hash %s\n",
                    entry.file.c_str(), entry.version.c_str(), entry.signature.c_str(),
                    entry.verity.c_str(), entry.root_hash.c_str());
      }
    }
    return report->all_valid() ? 0 : 5;
  }
  std::unique_ptr<CmsVerifier> verifier;
  if (auto loaded = CmsVerifier::load(keys / "trust")) {
    verifier = std::make_unique<CmsVerifier>(std::move(*loaded));
  }
  auto report = inspect_commit(out / "repo", target, verifier.get());
  if (!report) return report_error(report.error(), json);
  if (json) {
    std::cout << report->to_json().dump(2) << "\n";
  } else {
    std::printf(
        "commit %s\n  version %s\n  %zu packages, recipe digest %.16s…\n  signature %s %s\n",
        report->checksum.c_str(), report->version.c_str(), report->packages.size(),
        report->recipe_digest.c_str(), report->signature_state.c_str(),
        report->signature_detail.c_str());
  }
  return report->signature_state == "invalid" ? 5 : 0;
}

Expected<BundleResult> make_bundle(const std::filesystem::path& build_dir,
                                   const std::filesystem::path& output,
                                   const std::filesystem::path& keys_dir, Progress& progress) {
  auto keys = CAIRN_TRY(load_build_keys(keys_dir));
  auto signer = CAIRN_TRY(CmsSigner::load(keys.signing_key, keys.signing_cert));
  return write_bundle(
      {.build_dir = build_dir, .output = output, .db_cert = keys.trust_dir / "db.crt"}, signer,
      progress);
}

// `cairn-build audit`: the table on stdout (or JSON with --json), the report to a file; exit 5
// when a required control point fails.
int run_audit_command(const audit::AuditOptions& options, const std::filesystem::path& report_file,
                      bool json, ProcessRunner& runner) {
  auto report = audit::audit_path(options, runner);
  if (!report) return report_error(report.error(), json);
  auto document = report->to_json();
  if (!report_file.empty()) {
    auto written = write_file_atomic(report_file, document.dump(2) + "\n");
    if (!written) return report_error(written.error(), json);
  }
  if (json) {
    std::cout << document.dump(2) << "\n";
  } else {
    std::cout << report->table();
  }
  if (report->passed()) return 0;
  std::string failed;
  for (const auto& id : report->failed_controls()) failed += " " + id;
  std::fprintf(stderr, "cairn-build: audit failed: control points%s\n", failed.c_str());
  return 5;
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
                        "timestamp for reproducible output (default: $SOURCE_DATE_EPOCH, else the "
                        "last git commit's time)");
  build_cmd->add_flag("--no-cache", no_cache, "rebuild the root file system even if cached");
  build_cmd
      ->add_option(
          "--stop-after", stop_after,
          "stop after this stage (debugging; a kept work tree is removed by the next build)")
      ->check(CLI::IsMember(stage_names()));

  std::filesystem::path keys_dir = "out/keys";
  bool force = false;
  auto* keys_cmd = app.add_subcommand(
      "keys", "create a development PKI: Secure Boot PK/KEK/db, image CA and signing certificate");
  keys_cmd->add_option("-d,--dir", keys_dir, "where to write the keys")->capture_default_str();
  keys_cmd->add_flag("--force", force, "replace existing keys");

  std::string target;
  std::filesystem::path inspect_out = "out", inspect_keys;
  auto* inspect_cmd = app.add_subcommand(
      "inspect", "show what a disk image or OSTree commit holds, and whether its signatures hold");
  inspect_cmd->add_option("target", target, "disk image file, or an OSTree ref / commit")
      ->required();
  inspect_cmd->add_option("-o,--out", inspect_out, "output directory holding repo/")
      ->capture_default_str();
  inspect_cmd->add_option("-k,--keys", inspect_keys, "key directory (its trust/ is used)")
      ->default_str("<out>/keys");

  std::string from_version, to_version, diff_recipe = "kvm-host";
  auto* diff_cmd = app.add_subcommand("diff", "files and packages changed between two versions");
  diff_cmd->add_option("from", from_version, "older version")->required();
  diff_cmd->add_option("to", to_version, "newer version")->required();
  diff_cmd->add_option("-r,--recipe", diff_recipe, "recipe name")->capture_default_str();
  diff_cmd->add_option("-o,--out", inspect_out, "output directory holding repo/")
      ->capture_default_str();

  std::filesystem::path bundle_build, bundle_output, bundle_keys = "out/keys";
  auto* bundle_cmd =
      app.add_subcommand("bundle", "make a signed update bundle from a finished build");
  bundle_cmd->add_option("build", bundle_build, "build directory (out/<recipe>/<version>)")
      ->required()
      ->check(CLI::ExistingDirectory);
  bundle_cmd->add_option("-k,--keys", bundle_keys, "key directory (signing.key, signing.crt)")
      ->capture_default_str();
  bundle_cmd->add_option("--output", bundle_output, "bundle file")
      ->default_str("<build>/<recipe>_<version>.cairnb");

  std::filesystem::path publish_build_dir, publish_keys = "out/keys";
  PublishArgs publish_args;
  auto* publish_cmd = app.add_subcommand(
      "publish", "publish a build's signed bundle in a channel of a channel repository");
  publish_cmd->add_option("build", publish_build_dir, "build directory (out/<recipe>/<version>)")
      ->required()
      ->check(CLI::ExistingDirectory);
  publish_cmd->add_option("--repo", publish_args.repo, "channel repository (bundles/, channels/)")
      ->required();
  publish_cmd->add_option("--channel", publish_args.channel, "channel name, e.g. staging")
      ->required();
  publish_cmd->add_option("-k,--keys", publish_keys, "key directory (signing key, trust/)")
      ->capture_default_str();
  publish_cmd->add_option("--waves", publish_args.waves, "FRACTION:DELAY,... e.g. 0.1:0s,1:1d")
      ->capture_default_str();
  publish_cmd
      ->add_option("--max-failures", publish_args.max_failures, "failures that halt the rollout")
      ->capture_default_str();
  publish_cmd->add_option("--start", publish_args.start, "rollout start (RFC 3339 UTC)")
      ->default_str("now");
  publish_cmd->add_option("--expires-in", publish_args.expires_in, "the signed index's lifetime")
      ->capture_default_str();
  publish_cmd->add_option("--state", publish_args.state, "the entry's state")
      ->check(CLI::IsMember({"active", "paused", "pulled"}))
      ->capture_default_str();

  audit::AuditOptions audit_options{.hardening_dir = data_dir() / "hardening"};
  std::string audit_cmdline;
  std::filesystem::path audit_report = "compliance.json";
  auto* audit_cmd = app.add_subcommand(
      "audit", "check an image, a root tree or this host (/) against its hardening profile");
  audit_cmd
      ->add_option("target", audit_options.target,
                   "build directory (out/<recipe>/<version>), root file system tree, or /")
      ->required();
  audit_cmd->add_option("-p,--profile", audit_options.profile,
                        "hardening profile (default: the one the image records)");
  audit_cmd->add_option("--cmdline", audit_cmdline,
                        "kernel command line a bare tree boots with (default: unknown, those "
                        "checks are skipped)");
  audit_cmd->add_option("-r,--report", audit_report, "write compliance.json here ('' for none)")
      ->capture_default_str();
  audit_cmd->add_option("--live-root", audit_options.live_root,
                        "a host's /proc and /sys files copied here: audit TARGET (the build "
                        "directory of the image it runs) with that host's live kernel state");

  add_version_flag(app, "cairn-build");
  if (auto code = parse_command_line(app, "cairn-build", argc, argv)) return *code;

  if (audit_cmd->parsed()) {
    if (!audit_cmdline.empty()) audit_options.cmdline = audit_cmdline;
    return run_audit_command(audit_options, audit_report, json, runner);
  }

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
  if (bundle_cmd->parsed()) {
    auto bundle = make_bundle(bundle_build, bundle_output, bundle_keys, progress);
    if (!bundle) return report_error(bundle.error(), json);
    if (json) {
      std::cout << nlohmann::json{{"path", bundle->path.string()},
                                  {"size", bundle->size},
                                  {"manifest", nlohmann::json::parse(to_json(bundle->manifest))}}
                       .dump(2)
                << "\n";
    }
    std::fprintf(stderr, "Bundle %s %s (security version %llu): %s, %.1f MiB\n",
                 bundle->manifest.name.c_str(), bundle->manifest.version.c_str(),
                 static_cast<unsigned long long>(bundle->manifest.security_version),
                 bundle->path.c_str(), static_cast<double>(bundle->size) / (1 << 20));
    return 0;
  }
  if (publish_cmd->parsed()) {
    auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    auto request = publish_request(publish_args, now);
    if (!request) return report_error(request.error(), json);
    auto published = publish_build(publish_build_dir, publish_keys, *request, progress);
    if (!published) return report_error(published.error(), json);
    if (json) std::cout << to_json(*published).dump(2) << "\n";
    std::fprintf(stderr, "%s\n", summary(*published).c_str());
    return 0;
  }
  if (inspect_cmd->parsed()) return run_inspect(target, inspect_out, inspect_keys, json, runner);
  if (diff_cmd->parsed()) {
    auto diff = diff_versions(inspect_out / "repo", "cairn/" + diff_recipe + "/x86_64",
                              from_version, to_version);
    if (!diff) return report_error(diff.error(), json);
    if (json) {
      std::cout << diff->to_json().dump(2) << "\n";
      return 0;
    }
    std::printf("%s %s (%.12s) → %s (%.12s)\n", diff_recipe.c_str(), from_version.c_str(),
                diff->from_commit.c_str(), to_version.c_str(), diff->to_commit.c_str());
    for (const auto& p : diff->packages_added) std::printf("package + %s\n", p.c_str());
    for (const auto& p : diff->packages_removed) std::printf("package - %s\n", p.c_str());
    for (const auto& p : diff->packages_changed) std::printf("package ~ %s\n", p.c_str());
    for (const auto& f : diff->added) std::printf("A %s\n", f.c_str());
    for (const auto& f : diff->removed) std::printf("D %s\n", f.c_str());
    for (const auto& f : diff->modified) std::printf("M %s\n", f.c_str());
    return 0;
  }
  if (keys_cmd->parsed()) {
    auto keys = create_dev_pki(keys_dir, {.force = force}, runner);
    if (!keys) return report_error(keys.error(), json);
    if (json) {
      std::cout << nlohmann::json{{"dir", keys->dir.string()}, {"trust", keys->trust_dir.string()}}
                       .dump(2)
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
