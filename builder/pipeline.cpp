#include "builder/pipeline.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "builder/apt_sources.hpp"
#include "builder/audit/controls.hpp"
#include "builder/disk_layout.hpp"
#include "builder/hardening_profile.hpp"
#include "builder/keys.hpp"
#include "builder/stages/audit_image.hpp"
#include "builder/stages/commit.hpp"
#include "builder/stages/customize.hpp"
#include "builder/stages/disk_image.hpp"
#include "builder/stages/harden.hpp"
#include "builder/stages/host_agent.hpp"
#include "builder/stages/measurements.hpp"
#include "builder/stages/rootfs.hpp"
#include "builder/stages/slot_image.hpp"
#include "builder/stages/uki.hpp"
#include "common/cms.hpp"
#include "common/fs.hpp"
#include "common/hash.hpp"
#include "common/verity.hpp"
#include "common/version.hpp"

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
  if (value)
    progress.stage_finished(name, took);
  else
    value.error().with_context("stage " + name);
  return value;
}

bool stop_here(const BuildOptions& options, std::string_view stage) {
  return options.stop_after && *options.stop_after == stage;
}

}  // namespace

const std::vector<std::string>& stage_names() {
  static const std::vector<std::string> kNames = {
      "rootfs", "customize", "audit", "commit", "slot", "uki", "disk", "measure", "finalize"};
  return kNames;
}

nlohmann::json BuildResult::to_json() const {
  nlohmann::json out = {{"recipe", recipe},
                        {"version", version},
                        {"machine_class", machine_class},
                        {"security_version", security_version},
                        {"commit", commit},
                        {"ref", ref},
                        {"root_hash", root_hash},
                        {"kernel_version", kernel_version},
                        {"source_date_epoch", source_date_epoch},
                        {"rootfs_from_cache", rootfs_from_cache},
                        {"output_dir", output_dir.string()}};
  if (!stopped_after.empty()) {
    out["stopped_after"] = stopped_after;
    out["tree"] = tree.string();
  }
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

Status require_root() {
  if (::geteuid() != 0) {
    return fail(Errc::permission,
                "cairn-build build must run as root (mmdebstrap, chroot and file ownership in "
                "the image need it)");
  }
  return {};
}

Status preflight(const BuildOptions& options, const Recipe& recipe) {
  for (const char* tool :
       {"mmdebstrap", "mkfs.erofs", "unshare", "chroot", "cp", "systemctl", "dpkg-query"}) {
    if (!have_program(tool)) {
      return fail(Errc::unavailable,
                  std::string("missing tool '") + tool + "': run deps/install first");
    }
  }
  // A kvm-host build needs a few GiB: the deb cache, the tree, its copy, the repo, the images.
  std::uint64_t need = std::uint64_t{6} << 30;
  if (recipe.packages.size() < 30) need = std::uint64_t{2} << 30;
  return require_free_space(options.out_dir, need, "building '" + recipe.name + "'");
}

namespace {

// sha256 over everything that decides the image besides packages: the recipe, its overlay,
// the hardening profile and the disk layout files.
Expected<std::string> recipe_digest(const Recipe& recipe, const std::vector<fs::path>& files) {
  Sha256 hasher;
  for (const auto& file : files) {
    hasher.update(file.filename().string());
    hasher.update(CAIRN_TRY(read_file(file)));
  }
  if (!recipe.overlay.empty()) {
    std::vector<fs::path> entries;
    for (const auto& entry : fs::recursive_directory_iterator(recipe.overlay)) {
      entries.push_back(entry.path());
    }
    std::sort(entries.begin(), entries.end());
    for (const auto& entry : entries) {
      hasher.update(fs::relative(entry, recipe.overlay).string());
      if (fs::is_regular_file(fs::symlink_status(entry))) {
        hasher.update(CAIRN_TRY(read_file(entry)));
      }
    }
  }
  auto digest = hasher.finish();
  return to_hex(digest);
}

// timeout 0: no menu wait on an unattended host (boot counting picks the entry and falls back by
// itself); holding a key while systemd-boot starts still shows the menu.
// editor no: nobody at the console may edit the signed command line.
// secure-boot-enroll force: firmware in setup mode gets loader/keys/auto enrolled on first boot
// (systemd-boot enrolls only a directory named "auto" without asking), then resets into user
// mode, where only images signed by the db key run.
constexpr std::string_view kLoaderConf = "timeout 0\neditor no\nsecure-boot-enroll force\n";

Expected<Artifact> describe_artifact(std::string role, const fs::path& path) {
  Artifact artifact{.role = std::move(role), .path = path};
  artifact.size = CAIRN_TRY(cairn::file_size(path));
  auto digest = CAIRN_TRY(sha256_file(path));
  artifact.sha256 = to_hex(digest);
  return artifact;
}

// Moves the finished artifact directory into place, replacing an older build of the same
// version only once the new one is complete.
Status publish_directory(const fs::path& staged, const fs::path& final_dir) {
  std::error_code ec;
  fs::create_directories(final_dir.parent_path(), ec);
  fs::path old = final_dir.parent_path() / ("." + final_dir.filename().string() + ".old");
  fs::remove_all(old, ec);
  if (fs::exists(final_dir, ec)) {
    fs::rename(final_dir, old, ec);
    if (ec) return fail(Errc::io, "moving aside " + final_dir.string() + ": " + ec.message());
  }
  fs::rename(staged, final_dir, ec);
  if (ec) return fail(Errc::io, "publishing " + final_dir.string() + ": " + ec.message());
  fs::remove_all(old, ec);
  return fsync_directory(final_dir.parent_path());
}

// One build per output directory at a time; the lock also makes leftovers of a killed build
// (its .build-* directory) safe to remove.
Expected<UniqueFd> lock_output_dir(const fs::path& out_dir) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  auto fd = CAIRN_TRY(open_file(out_dir / ".lock", O_RDWR | O_CREAT));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    return fail(Errc::busy, "another cairn-build is using " + out_dir.string());
  }
  for (const auto& entry : fs::directory_iterator(out_dir, ec)) {
    if (entry.path().filename().string().starts_with(".build-")) fs::remove_all(entry.path(), ec);
  }
  return fd;
}

}  // namespace

Expected<BuildResult> build_image(const BuildOptions& options, ProcessRunner& runner,
                                  Progress& progress) {
  auto recipe = CAIRN_TRY(load_recipe(options.recipe));
  CAIRN_CHECK(require_root());
  HardeningProfile profile;
  audit::ControlCatalogue catalogue;
  std::vector<fs::path> inputs = {recipe.file};
  if (!recipe.hardening_profile.empty()) {
    profile = CAIRN_TRY(load_hardening_profile(data_dir() / "hardening", recipe.hardening_profile));
    catalogue = CAIRN_TRY(audit::load_control_catalogue(data_dir() / "hardening/controls"));
    CAIRN_CHECK(audit::check_profile_controls(profile, catalogue));
    for (const auto& name : profile.chain) {
      inputs.push_back(data_dir() / "hardening" / (name + ".toml"));
    }
  }
  auto hardening_vars = hardening_variables(recipe);
  fs::path layout_file = data_dir() / "images" / (recipe.disk_layout + ".toml");
  inputs.push_back(layout_file);
  auto layout = CAIRN_TRY(with_context(load_disk_layout(layout_file, recipe.disk),
                                       "disk layout '" + recipe.disk_layout + "'"));
  auto keys = CAIRN_TRY(load_build_keys(options.keys_dir));
  auto signer = CAIRN_TRY(CmsSigner::load(keys.signing_key, keys.signing_cert));
  CAIRN_CHECK(preflight(options, recipe));
  auto lock = CAIRN_TRY(lock_output_dir(options.out_dir));
  auto digest = CAIRN_TRY(recipe_digest(recipe, inputs));
  auto host_sources = CAIRN_TRY(read_host_sources("/etc/apt"));
  auto sources =
      CAIRN_TRY(sources_for_suite(host_sources, recipe.mirrors, recipe.suite, recipe.components));

  BuildResult result{.recipe = recipe.name,
                     .version = recipe.version,
                     .machine_class = recipe.machine_class,
                     .security_version = recipe.security_version,
                     .ref = "cairn/" + recipe.name + "/" + recipe.arch,
                     .source_date_epoch = options.source_date_epoch};
  auto work = CAIRN_TRY(TempDir::create(options.out_dir, ".build-" + recipe.name + "-"));
  fs::path artifacts = work.path() / "artifacts";
  fs::create_directories(artifacts);
  // --stop-after: the work tree stays for inspection (the next build removes it), and the result
  // says what exists and where; nothing is published.
  auto stop = [&](std::string_view stage, const fs::path& tree) {
    result.stopped_after = stage;
    result.tree = tree;
    result.output_dir = work.path();  // before keep(), which forgets the path
    work.keep();
    return result;
  };

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
  if (stop_here(options, "rootfs")) return stop("rootfs", rootfs.tree);

  CustomizeInput customize_input{.base_tree = rootfs.tree,
                                 .work_dir = work.path(),
                                 .overlay = recipe.overlay,
                                 .users = recipe.users,
                                 .profile = recipe.hardening_profile.empty() ? nullptr : &profile,
                                 .hardening_vars = hardening_vars,
                                 .enable_units = recipe.enable_units,
                                 .disable_units = recipe.disable_units,
                                 .initrd_drivers = recipe.initrd_drivers,
                                 .image_name = recipe.name,
                                 .image_version = recipe.version,
                                 .image_security_version = recipe.security_version,
                                 .source_date_epoch = options.source_date_epoch};
  auto custom =
      CAIRN_TRY(run_stage("customize", result, progress, [&]() -> Expected<CustomizeOutput> {
        auto output = CAIRN_TRY(customize_tree(customize_input, runner, progress));
        progress.stage_detail("customize", "host agent (cairn-update, trust anchors)");
        CAIRN_CHECK(install_host_agent({.trust_dir = keys.trust_dir,
                                        .machine_class = recipe.machine_class,
                                        .update_binary = find_update_binary(),
                                        .dist_dir = data_dir() / "updater/dist",
                                        .evacuate_binary = find_evacuate_binary(),
                                        .poll_trigger_binary = find_poll_trigger_binary(),
                                        .attest_binary = find_attest_binary(),
                                        .attest_dist_dir = data_dir() / "attest/dist"},
                                       output.tree));
        return output;
      }));
  result.kernel_version = custom.kernel_version;
  if (stop_here(options, "customize")) return stop("customize", custom.tree);

  // The image must pass its own profile before it is committed: a failed required check fails
  // the build, and nothing reaches out/.
  std::optional<audit::ComplianceReport> compliance;
  CAIRN_CHECK(run_stage("audit", result, progress, [&]() -> Status {
    if (recipe.hardening_profile.empty()) return {};
    compliance = CAIRN_TRY(audit_image_tree({.profile = profile,
                                             .catalogue = catalogue,
                                             .recipe = recipe,
                                             .tree = custom.tree,
                                             .vars = hardening_vars}));
    return {};
  }));
  if (stop_here(options, "audit")) return stop("audit", custom.tree);

  fs::path repo = options.out_dir / "repo";
  fs::path staging_repo = options.out_dir / "cache/staging-repo";
  auto commit = CAIRN_TRY(run_stage("commit", result, progress, [&] {
    return commit_tree_to_repo({.repo = repo,
                                .staging_repo = staging_repo,
                                .tree = custom.tree,
                                .ref = result.ref,
                                .version = recipe.version,
                                .recipe_digest = digest,
                                .packages = custom.packages,
                                .source_date_epoch = options.source_date_epoch,
                                .signer = &signer},
                               progress);
  }));
  result.commit = commit.checksum;
  if (stop_here(options, "commit")) return stop("commit", custom.tree);

  auto slot = CAIRN_TRY(run_stage("slot", result, progress, [&]() -> Expected<SlotImageOutput> {
    // The slot is made from what was committed, not from the working tree.
    fs::path checkout = work.path() / "checkout";
    progress.stage_detail("slot", "checking out " + commit.checksum.substr(0, 12));
    // Hard links into the staging repo, as an OSTree deployment is made: identical files become
    // one inode in the image (harmless on a read-only root, and smaller). mkfs.erofs only reads
    // the checkout and counts links within the tree, so links held by the repo never reach it.
    CAIRN_CHECK(checkout_commit(staging_repo, commit.checksum, checkout, true));
    return build_slot_image({.tree = checkout,
                             .output_dir = artifacts,
                             .tree_checksum = commit.tree_checksum,
                             .source_date_epoch = options.source_date_epoch},
                            runner, progress);
  }));
  result.root_hash = to_hex(slot.root_hash);
  if (stop_here(options, "slot")) return stop("slot", custom.tree);

  auto disk = CAIRN_TRY(image_disk(layout, recipe.name, recipe.version, slot.root_hash));
  fs::path uki_path = artifacts / (recipe.name + "_" + recipe.version + ".efi");
  fs::path boot_efi = work.path() / "systemd-bootx64.efi";
  CAIRN_TRY(run_stage("uki", result, progress, [&]() -> Expected<UkiOutput> {
    std::vector<std::string> extra = profile.cmdline();
    extra.insert(extra.end(), recipe.kernel_cmdline.begin(), recipe.kernel_cmdline.end());
    fs::path efi_dir = custom.tree / "usr/lib/systemd/boot/efi";
    CAIRN_CHECK(sign_efi_binary(efi_dir / "systemd-bootx64.efi", boot_efi, keys.db_key,
                                keys.db_cert, options.source_date_epoch, runner));
    return build_uki(
        {.stub = efi_dir / "linuxx64.efi.stub",
         .kernel = custom.kernel,
         .initrd = custom.initrd,
         .os_release = custom.os_release,
         .cmdline = slot_cmdline(result.root_hash, verity_data_partition_uuid(slot.root_hash),
                                 verity_hash_partition_uuid(slot.root_hash), extra),
         .uname = custom.kernel_version,
         .db_key = keys.db_key,
         .db_cert = keys.db_cert,
         .output = uki_path},
        runner);
  }));
  if (stop_here(options, "uki")) return stop("uki", custom.tree);

  CAIRN_TRY(run_stage("disk", result, progress, [&]() -> Expected<DiskImageOutput> {
    CAIRN_CHECK(write_file_atomic(work.path() / "loader.conf", kLoaderConf));
    EspContents esp{.files = {{"EFI/BOOT/BOOTX64.EFI", boot_efi},
                              {"EFI/systemd/systemd-bootx64.efi", boot_efi},
                              {"loader/loader.conf", work.path() / "loader.conf"},
                              {"loader/keys/auto/PK.auth", keys.pk_auth},
                              {"loader/keys/auto/KEK.auth", keys.kek_auth},
                              {"loader/keys/auto/db.auth", keys.db_auth},
                              // Boot counting: three tries, then systemd-boot falls back.
                              {"EFI/Linux/" + new_entry_name(recipe.version), uki_path}}};
    return build_disk_image({.disk = disk,
                             .root_image = slot.erofs,
                             .verity_image = slot.verity,
                             .esp = esp,
                             .source_date_epoch = options.source_date_epoch,
                             .output = artifacts / "disk.img"},
                            runner, progress);
  }));
  if (stop_here(options, "disk")) return stop("disk", custom.tree);

  // What a host booted from this disk must show in its TPM, from the very files on its ESP.
  CAIRN_CHECK(run_stage("measure", result, progress, [&]() -> Status {
    auto measurements = CAIRN_TRY(predict_golden_measurements({.name = recipe.name,
                                                               .version = recipe.version,
                                                               .systemd_boot = boot_efi,
                                                               .uki = uki_path,
                                                               .secure_boot_db = keys.db_cert}));
    return write_measurements(measurements, signer, artifacts);
  }));
  if (stop_here(options, "measure")) return stop("measure", custom.tree);

  fs::path final_dir = options.out_dir / recipe.name / recipe.version;
  CAIRN_CHECK(run_stage("finalize", result, progress, [&]() -> Status {
    result.output_dir = final_dir;
    std::string packages;
    for (const auto& package : custom.packages) packages += package + "\n";
    CAIRN_CHECK(write_file_atomic(artifacts / "packages.txt", packages));
    std::vector<std::pair<std::string, std::string>> listed = {
        {"disk-image", "disk.img"},
        {"slot-root", "root.erofs"},
        {"slot-verity", "root.verity"},
        {"uki", uki_path.filename().string()},
        {"packages", "packages.txt"}};
    if (compliance) {
      // The report the build proved, signed like the commit (detached CMS).
      CAIRN_CHECK(write_compliance(*compliance, recipe, signer, artifacts));
      listed.emplace_back("compliance", "compliance.json");
      listed.emplace_back("compliance-sig", "compliance.json.sig");
    }
    listed.emplace_back("measurements", "measurements.json");
    listed.emplace_back("measurements-sig", "measurements.json.sig");
    for (const auto& [role, name] : listed) {
      auto artifact = CAIRN_TRY(describe_artifact(role, artifacts / name));
      artifact.path = final_dir / name;
      result.artifacts.push_back(std::move(artifact));
    }
    auto json = result.to_json();
    json["recipe_digest"] = digest;
    json["commit_signed"] = commit.is_signed;
    json["tree"] = commit.tree_checksum;
    json["package_count"] = custom.packages.size();
    json["hardening_profile"] = recipe.hardening_profile;
    CAIRN_CHECK(write_file_atomic(artifacts / "build.json", json.dump(2) + "\n"));
    progress.stage_detail("finalize", "waiting for the commit to reach " + repo.string());
    CAIRN_CHECK(commit.archived.get());
    CAIRN_CHECK(publish_directory(artifacts, final_dir));
    // Last: the ref names the newest complete build.
    return publish_ref(repo, result.ref, commit.checksum);
  }));
  return result;
}

}  // namespace cairn::builder
