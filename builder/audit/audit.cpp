#include "builder/audit/audit.hpp"

#include <unistd.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "builder/image_inspect.hpp"
#include "builder/stages/harden.hpp"
#include "common/fs.hpp"
#include "common/pe.hpp"

namespace cairn::builder::audit {

namespace fs = std::filesystem;

namespace {

// A slot image mounted read-only on a temporary directory for as long as the object lives.
class MountedSlot {
 public:
  static Expected<std::unique_ptr<MountedSlot>> mount(const fs::path& image,
                                                      ProcessRunner& runner) {
    if (::geteuid() != 0) {
      return fail(Errc::permission, "auditing a built image mounts its slot (" + image.string() +
                                        "), which needs root");
    }
    auto dir = CAIRN_TRY(TempDir::create(fs::temp_directory_path(), "cairn-audit-"));
    CAIRN_CHECK(run_step(
        runner,
        {.argv = {"mount", "-t", "erofs", "-o", "loop,ro", image.string(), dir.path().string()}},
        "mounting " + image.string()));
    return std::unique_ptr<MountedSlot>(new MountedSlot(std::move(dir), runner));
  }
  ~MountedSlot() {
    // A failure leaves a mount behind; nothing better can be done from a destructor.
    (void)runner_.run({.argv = {"umount", dir_.path().string()}});
  }
  MountedSlot(const MountedSlot&) = delete;
  MountedSlot& operator=(const MountedSlot&) = delete;
  const fs::path& path() const { return dir_.path(); }

 private:
  MountedSlot(TempDir dir, ProcessRunner& runner) : dir_(std::move(dir)), runner_(runner) {}
  TempDir dir_;
  ProcessRunner& runner_;
};

struct Record {
  std::string profile;
  std::map<std::string, std::string> vars;
};

// What the image says it was built to (stages/harden.cpp writes it).
Expected<std::optional<Record>> read_record(const fs::path& root) {
  auto text = read_file(root / fs::path(std::string(kHardeningRecord)).relative_path());
  if (!text) return std::optional<Record>{};
  auto json = nlohmann::json::parse(*text, nullptr, false);
  if (json.is_discarded() || !json.contains("profile") || !json["profile"].is_string()) {
    return fail(Errc::invalid_input, std::string(kHardeningRecord) + " in the target is malformed");
  }
  Record record{.profile = json["profile"].get<std::string>()};
  if (json.contains("variables") && json["variables"].is_object()) {
    for (const auto& [key, value] : json["variables"].items()) {
      if (value.is_string()) record.vars[key] = value.get<std::string>();
    }
  }
  return record;
}

Expected<fs::path> find_uki(const fs::path& build_dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(build_dir, ec)) {
    if (entry.path().extension() == ".efi") return entry.path();
  }
  return fail(Errc::not_found, build_dir.string() + " has no UKI (*.efi)");
}

}  // namespace

ComplianceReport run_audit(const HardeningProfile& profile, const ControlCatalogue& catalogue,
                           const AuditTarget& target,
                           const std::map<std::string, std::string>& vars) {
  return make_report(profile, catalogue, target, run_checks(profile, target, vars));
}

Expected<std::string> uki_cmdline(const fs::path& uki) {
  auto bytes = CAIRN_TRY(read_file(uki));
  auto pe = CAIRN_TRY(read_pe(uki));
  if (!pe.find(".cmdline")) return fail(Errc::invalid_input, uki.string() + " has no .cmdline");
  return pe_section_text(bytes, pe, ".cmdline");
}

Expected<ComplianceReport> audit_path(const AuditOptions& options, ProcessRunner& runner) {
  std::error_code ec;
  AuditTarget target{.description = options.target.string(), .cmdline = options.cmdline};
  ProcSysLiveHost live(options.live_root.empty() ? fs::path("/") : options.live_root);
  std::unique_ptr<MountedSlot> slot;
  if (!options.live_root.empty() && !fs::exists(options.target / "root.erofs", ec)) {
    return fail(Errc::invalid_input,
                "--live-root goes with the build directory of the image the "
                "host runs");
  }
  if (!fs::is_directory(options.target, ec)) {
    return fail(Errc::invalid_input,
                options.target.string() + " is not a build directory, a root tree or /");
  }
  if (fs::equivalent(options.target, "/", ec)) {
    target.kind = "host";
    target.root = "/";
    target.live = &live;
    target.cmdline = live.cmdline();
  } else if (fs::exists(options.target / "root.erofs", ec)) {
    target.kind = "image";
    slot = CAIRN_TRY(MountedSlot::mount(options.target / "root.erofs", runner));
    target.root = slot->path();
    auto uki = CAIRN_TRY(find_uki(options.target));
    target.cmdline = CAIRN_TRY(uki_cmdline(uki));
    if (!options.live_root.empty()) {
      // The host runs this image: its tree is the image's, its kernel state the snapshot's.
      target.kind = "host-snapshot";
      target.live = &live;
      target.cmdline = live.cmdline();
      if (!target.cmdline) {
        return fail(Errc::invalid_input,
                    options.live_root.string() + " holds no proc/cmdline: not a host snapshot");
      }
    }
  } else {
    target.kind = "tree";
    target.root = options.target;
  }
  auto record = CAIRN_TRY(read_record(target.root));
  std::string name = options.profile;
  if (name.empty()) {
    if (!record) {
      return fail(Errc::invalid_input, options.target.string() + " records no hardening profile (" +
                                           std::string(kHardeningRecord) +
                                           "): name one with --profile");
    }
    name = record->profile;
  }
  auto profile = CAIRN_TRY(load_hardening_profile(options.hardening_dir, name));
  auto catalogue = CAIRN_TRY(load_control_catalogue(options.hardening_dir / "controls"));
  CAIRN_CHECK(check_profile_controls(profile, catalogue));
  std::map<std::string, std::string> vars;
  if (record) vars = record->vars;
  return run_audit(profile, catalogue, target, vars);
}

}  // namespace cairn::builder::audit
