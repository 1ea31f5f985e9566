#include "updater/host.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "common/cms.hpp"
#include "common/fs.hpp"
#include "common/os_release.hpp"
#include "common/pe.hpp"
#include "common/uki_signature.hpp"
#include "updater/history.hpp"
#include "updater/host_gate.hpp"
#include "updater/source.hpp"

namespace cairn::updater {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kRootDataKey = "systemd.verity_root_data=PARTUUID=";

// The root data partition systemd-veritysetup opened, from the kernel command line; empty when
// the running system was not booted from a Cairn slot.
Expected<std::string> running_root_partuuid() {
  auto cmdline = CAIRN_TRY(read_file("/proc/cmdline"));
  auto at = cmdline.find(kRootDataKey);
  if (at == std::string::npos) return std::string();
  return cmdline.substr(at + kRootDataKey.size(), 36);
}

}  // namespace

// The slot the running system booted: the root PARTUUID systemd-veritysetup opened.
Expected<char> booted_slot(const SlotLayout& layout, const std::string& forced) {
  if (forced == "A" || forced == "B") return forced[0];
  if (!forced.empty()) return fail(Errc::invalid_input, "--booted must be A or B");
  std::string uuid = CAIRN_TRY(running_root_partuuid());
  if (uuid.empty()) {
    return fail(Errc::invalid_input, "cannot tell the running slot (no " +
                                         std::string(kRootDataKey) +
                                         " on the kernel command line): pass --booted A|B");
  }
  auto slot = layout.slot_with_root_uuid(uuid);
  if (!slot)
    return fail(Errc::not_found,
                "the running root " + uuid + " is on neither slot of " + layout.disk.string());
  return *slot;
}

Expected<std::string> machine_class(const HostOptions& host) {
  if (!host.machine_class.empty()) return host.machine_class;
  auto text = read_file("/usr/lib/cairn/machine-class");
  if (!text)
    return fail(Errc::not_found,
                "this host's machine class is unknown (/usr/lib/cairn/machine-class): pass "
                "--machine-class");
  std::string value = *text;
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
  return value;
}

Expected<fs::path> default_disk() {
  std::string uuid = CAIRN_TRY(running_root_partuuid());
  if (uuid.empty()) {
    return fail(Errc::invalid_input, "not booted from a Cairn slot (no " +
                                         std::string(kRootDataKey) +
                                         " on the kernel command line): pass --disk");
  }
  std::error_code ec;
  fs::path partition = fs::canonical("/dev/disk/by-partuuid/" + uuid, ec);
  if (ec) return fail(Errc::not_found, "no partition with PARTUUID " + uuid);
  // /sys/class/block/vda2 → …/block/vda/vda2: the parent directory is the whole disk.
  fs::path sysfs = fs::canonical("/sys/class/block" / partition.filename(), ec);
  if (ec) return fail(Errc::not_found, "no sysfs entry for " + partition.string());
  return fs::path("/dev") / sysfs.parent_path().filename();
}

std::unique_ptr<Esp> open_esp(const HostOptions& host, const SlotLayout& layout,
                              ProcessRunner& runner) {
  std::error_code ec;
  if (!host.esp.empty()) return std::make_unique<MountedEsp>(host.esp);
  if (fs::is_regular_file(host.disk, ec)) {
    return std::make_unique<ImageEsp>(host.disk, layout.esp.start_bytes, runner);
  }
  return std::make_unique<MountedEsp>("/efi");
}

Expected<std::uint64_t> running_image_security_version(const HostOptions& host,
                                                       const SlotLayout& layout, char booted,
                                                       Esp& esp) {
  std::error_code ec;
  if (!fs::is_regular_file(host.disk, ec)) {
    auto text = CAIRN_TRY(read_file(host.os_release));
    return image_security_version(text, host.os_release.string());
  }
  // A disk-image file runs nothing: its booted slot's image speaks through its UKI's .osrel.
  std::string version = layout.slot(booted).version();
  for (const auto& name : CAIRN_TRY(esp.list_entries())) {
    if (!entry_is_version(name, version)) continue;
    auto bytes = CAIRN_TRY(esp.read_entry(name));
    auto pe = CAIRN_TRY(parse_pe(bytes, name));
    return image_security_version(pe_section_text(bytes, pe, ".osrel"), name + " (.osrel)");
  }
  return fail(Errc::not_found,
              "cannot tell the running image's security version: slot " + std::string(1, booted) +
                  " (" + (version.empty() ? "empty" : version) + ") has no boot entry on the ESP");
}

namespace {

// What every operation on the slots needs: the layout, the running slot, the ESP, and an
// interrupted install undone first.
struct HostContext {
  SlotLayout layout;
  char booted = 'A';
  SystemProcessRunner runner;
  std::unique_ptr<Esp> esp;
};

Expected<std::unique_ptr<HostContext>> open_host(const HostOptions& host) {
  auto context = std::make_unique<HostContext>();
  context->layout = CAIRN_TRY(read_slot_layout(host.disk));
  context->booted = CAIRN_TRY(booted_slot(context->layout, host.booted));
  context->esp = open_esp(host, context->layout, context->runner);
  return context;
}

Status recover(const HostOptions& host, Lifecycle& lifecycle, HostContext& context) {
  // Only an install can have been interrupted: otherwise the disk is not even opened.
  Phase phase = lifecycle.state().phase;
  if (phase != Phase::installing && phase != Phase::installed) return {};
  auto device = CAIRN_TRY(DiskSlotDevice::open(host.disk));
  CAIRN_TRY(lifecycle.recover(device, *context.esp, context.layout, context.booted));
  return {};
}

// The UKI must be signed for the Secure Boot db the image trusts: the firmware would refuse it
// after three failed boots otherwise.
std::function<Status(const fs::path&)> uki_check(const HostOptions& host) {
  fs::path db_cert = host.trust / "db.crt";
  return [db_cert](const fs::path& uki) { return check_uki_signature(uki, db_cert); };
}

}  // namespace

bool is_disk_image(const HostOptions& host) {
  std::error_code ec;
  return fs::is_regular_file(host.disk, ec);
}

Status record_image_floor(const HostOptions& host, const SlotLayout& layout, char booted,
                          Esp& esp) {
  auto lifecycle = CAIRN_TRY(Lifecycle::open(host.state, host.on_transition));
  const HostState& state = lifecycle.state();
  // A version on trial is not the host's yet: its security version becomes the floor when it
  // commits (or never, when it fails and the host goes back).
  if (state.pending && state.pending->slot == booted) return {};
  return lifecycle.raise_floor(
      CAIRN_TRY(running_image_security_version(host, layout, booted, esp)));
}

Status mark_good(const HostOptions& host) {
  auto lifecycle = CAIRN_TRY(Lifecycle::open(host.state, host.on_transition));
  auto context = CAIRN_TRY(open_host(host));
  CAIRN_CHECK(recover(host, lifecycle, *context));
  return lifecycle.commit(Verdict::administrator, "");
}

Status mark_bad(const HostOptions& host) {
  auto lifecycle = CAIRN_TRY(Lifecycle::open(host.state, host.on_transition));
  auto context = CAIRN_TRY(open_host(host));
  CAIRN_CHECK(recover(host, lifecycle, *context));
  return lifecycle.mark_failed(Verdict::administrator, "", *context->esp, context->booted);
}

Expected<RollbackPlan> rollback(const HostOptions& host) {
  // The same lock as an install: a rollback never races a slot being written.
  auto lifecycle = CAIRN_TRY(Lifecycle::open(host.state, host.on_transition));
  auto context = CAIRN_TRY(open_host(host));
  CAIRN_CHECK(recover(host, lifecycle, *context));
  auto plan = CAIRN_TRY(plan_rollback(context->layout, context->booted, lifecycle.state(),
                                      CAIRN_TRY(context->esp->list_entries())));
  CAIRN_CHECK(lifecycle.rollback(plan, *context->esp));
  return plan;
}

Expected<InstallResult> run_install(const std::string& source, const HostOptions& host,
                                    Progress& progress, std::stop_token stop,
                                    SourceOptions options) {
  if (options.ca_file.empty()) options.ca_file = host.ca_file;
  auto lifecycle = CAIRN_TRY(Lifecycle::open(host.state, host.on_transition));
  auto context = CAIRN_TRY(open_host(host));
  CAIRN_CHECK(recover(host, lifecycle, *context));
  InstallTarget target{.layout = context->layout,
                       .booted = context->booted,
                       .machine_class = CAIRN_TRY(machine_class(host)),
                       .boot_id = current_boot_id(),
                       .allow_downgrade = host.allow_downgrade};
  // The running image's floor, unless it is itself on trial (then the floor is what the host
  // committed to, in state.json).
  const HostState& state = lifecycle.state();
  if (!state.pending || state.pending->slot != target.booted) {
    target.image_security_version = CAIRN_TRY(
        running_image_security_version(host, target.layout, target.booted, *context->esp));
  }
  auto verifier = CmsVerifier::load(host.trust);
  auto bundle = verifier ? BundleSource::open(source, options) : std::unexpected(verifier.error());
  std::optional<BundleReader> reader;
  auto refused = [&](Error why) -> Error {
    // A refusal is an update that did not happen: it goes into the history too.
    lifecycle.note_refused(reader ? reader->manifest_version() : "",
                           target.layout.slot(target.booted).version(), source, why);
    return why;
  };
  if (!bundle) return std::unexpected(refused(std::move(bundle.error())));
  auto opened = BundleReader::open_fd(bundle->fd(), bundle->name(),
                                      [&bundle](std::uint64_t end, std::uint64_t padded_end) {
                                        return bundle->check_end(end, padded_end);
                                      });
  if (!opened) return std::unexpected(refused(bundle->explain(std::move(opened.error()))));
  reader.emplace(std::move(*opened));
  progress.stage_started("verify");
  auto started = std::chrono::steady_clock::now();
  auto plan = plan_install(*reader, *verifier, target, state, *context->esp);
  if (!plan) return std::unexpected(refused(bundle->explain(std::move(plan.error()))));
  std::chrono::duration<double> verified = std::chrono::steady_clock::now() - started;
  plan->verify_seconds = verified.count();
  progress.stage_finished("verify", verified);
  auto device = CAIRN_TRY(DiskSlotDevice::open(host.disk));
  auto installed = run_install_plan(*plan, *reader, target,
                                    {.device = device,
                                     .esp = *context->esp,
                                     .lifecycle = lifecycle,
                                     .progress = progress,
                                     .check_uki = uki_check(host),
                                     .work_dir = host.state / "tmp",
                                     .stop = stop,
                                     .source_complete = [&] { return bundle->finish(); }},
                                    source);
  if (!installed) return std::unexpected(bundle->explain(std::move(installed.error())));
  return installed;
}

Expected<BootAssessment> run_health(const HostOptions& host, const UpdateConfig& config,
                                    const RoundObserver& on_round, HostRebootGate& gate) {
  auto context = CAIRN_TRY(open_host(host));
  {
    // An install a power cut interrupted is undone before anything looks at the slots.
    auto lifecycle = CAIRN_TRY(Lifecycle::open(host.state, host.on_transition));
    CAIRN_CHECK(recover(host, lifecycle, *context));
  }
  SystemdManager systemd;
  DiskImageManager image;
  ServiceManager& plain = is_disk_image(host) ? static_cast<ServiceManager&>(image) : systemd;
  // The reboot away from a failed update goes back to the other slot's version.
  char other = context->booted == 'A' ? 'B' : 'A';
  GatedServiceManager manager(plain, gate, context->layout.slot(other).version());
  SystemClock clock;
  // The running image's floor is recorded at every boot, so a host whose /var was wiped has it
  // back at once. Not fatal here: the health verdict must not depend on it, and every install
  // reads it again and refuses loudly when it cannot.
  (void)record_image_floor(host, context->layout, context->booted, *context->esp);
  auto checks = configured_checks(config.health, manager, context->runner);
  return assess_boot({.state_dir = host.state,
                      .layout = context->layout,
                      .booted = context->booted,
                      .boot_id = current_boot_id(),
                      .on_transition = host.on_transition},
                     config.health,
                     {.esp = *context->esp,
                      .manager = manager,
                      .clock = clock,
                      .checks = checks,
                      .on_round = on_round});
}

}  // namespace cairn::updater
