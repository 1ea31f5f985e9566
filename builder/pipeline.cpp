#include "builder/pipeline.hpp"

#include <unistd.h>

#include "builder/apt_sources.hpp"
#include "builder/hardening_profile.hpp"
#include "builder/stages/customize.hpp"
#include "builder/stages/rootfs.hpp"
#include "common/fs.hpp"
#include "common/hash.hpp"

namespace cairn::builder {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Times one stage and reports it; the result is recorded even when the stage fails.
template <class F>
auto run_stage(const std::string& name, BuildResult& result, Progress& progress, F&& body)
    -> decltype(body()) {
  progress.stage_started(name);
  auto start = Clock::now();
  auto value = body();
  std::chrono::duration<double> took = Clock::now() - start;
  result.stages.push_back({name, took.count()});
  if (value) progress.stage_finished(name, took);
  else value.error().with_context("stage " + name);
  return value;
}

bool stop_here(const BuildOptions& options, std::string_view stage) {
  return options.stop_after && *options.stop_after == stage;
}

}  // namespace

const std::vector<std::string>& stage_names() {
  static const std::vector<std::string> kNames = {"rootfs", "customize", "commit", "slot",
                                                  "uki",    "disk",      "finalize"};
  return kNames;
}

nlohmann::json BuildResult::to_json() const {
  nlohmann::json out = {{"recipe", recipe},
                        {"version", version},
                        {"machine_class", machine_class},
                        {"commit", commit},
                        {"ref", ref},
                        {"root_hash", root_hash},
                        {"kernel_version", kernel_version},
                        {"source_date_epoch", source_date_epoch},
                        {"rootfs_from_cache", rootfs_from_cache},
                        {"output_dir", output_dir.string()}};
  out["stages"] = nlohmann::json::array();
  for (const auto& stage : stages) {
    out["stages"].push_back({{"name", stage.name}, {"seconds", stage.seconds}});
  }
  out["artifacts"] = nlohmann::json::array();
  for (const auto& artifact : artifacts) {
    out["artifacts"].push_back({{"role", artifact.role},
                                {"path", artifact.path.string()},
                                {"size", artifact.size},
                                {"sha256", artifact.sha256}});
  }
  return out;
}

Status preflight(const BuildOptions& options, const Recipe& recipe) {
  if (::geteuid() != 0) {
    return fail(Errc::permission,
                "cairn-build build must run as root (mmdebstrap, chroot and file ownership in "
                "the image need it)");
  }
  for (const char* tool : {"mmdebstrap", "mkfs.erofs", "unshare", "chroot", "cp", "systemctl",
                           "dpkg-query"}) {
    if (!have_program(tool)) {
      return fail(Errc::not_found,
                  std::string("missing tool '") + tool + "': run deps/install first");
    }
  }
  // A kvm-host build needs a few GiB: the deb cache, the tree, its copy, the repo, the images.
  std::uint64_t need = std::uint64_t{6} << 30;
  if (recipe.packages.size() < 30) need = std::uint64_t{2} << 30;
  return require_free_space(options.out_dir, need, "building '" + recipe.name + "'");
}

Expected<BuildResult> build_image(const BuildOptions& options, ProcessRunner& runner,
                                  Progress& progress) {
  auto recipe = CAIRN_TRY(load_recipe(options.recipe));
  HardeningProfile profile;
  if (!recipe.hardening_profile.empty()) {
    profile = CAIRN_TRY(load_hardening_profile(data_dir() / "hardening", recipe.hardening_profile));
  }
  CAIRN_CHECK(preflight(options, recipe));
  auto host_sources = CAIRN_TRY(read_host_sources("/etc/apt"));
  auto sources =
      CAIRN_TRY(sources_for_suite(host_sources, recipe.mirrors, recipe.suite, recipe.components));

  BuildResult result{.recipe = recipe.name,
                     .version = recipe.version,
                     .machine_class = recipe.machine_class,
                     .source_date_epoch = options.source_date_epoch};
  auto work = CAIRN_TRY(TempDir::create(options.out_dir, ".build-" + recipe.name + "-"));

  RootfsInput rootfs_input{.sources = sources,
                           .suite = recipe.suite,
                           .packages = recipe.packages,
                           .source_date_epoch = options.source_date_epoch,
                           .cache_dir = options.out_dir / "cache",
                           .use_tree_cache = options.use_tree_cache};
  auto rootfs = CAIRN_TRY(run_stage("rootfs", result, progress, [&]() -> Expected<RootfsOutput> {
    progress.stage_detail("rootfs", "checking mirrors");
    rootfs_input.mirror_state = CAIRN_TRY(fetch_mirror_state(sources, 15));
    return build_rootfs(rootfs_input, runner, progress);
  }));
  result.rootfs_from_cache = rootfs.from_cache;
  if (stop_here(options, "rootfs")) return result;

  CustomizeInput customize_input{.base_tree = rootfs.tree,
                                 .work_dir = work.path(),
                                 .overlay = recipe.overlay,
                                 .users = recipe.users,
                                 .sysctl_conf = profile.settings.empty() ? "" : profile.sysctl_conf(),
                                 .enable_units = recipe.enable_units,
                                 .initrd_drivers = recipe.initrd_drivers,
                                 .image_name = recipe.name,
                                 .image_version = recipe.version,
                                 .source_date_epoch = options.source_date_epoch};
  auto custom = CAIRN_TRY(run_stage("customize", result, progress, [&] {
    return customize_tree(customize_input, runner, progress);
  }));
  result.kernel_version = custom.kernel_version;
  if (stop_here(options, "customize")) {
    work.keep();
    result.output_dir = work.path();
    return result;
  }
  return fail(Errc::internal, "the pipeline after 'customize' is not wired yet");
}

}  // namespace cairn::builder
