#include "updater/host.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "common/cms.hpp"
#include "common/fs.hpp"
#include "common/os_release.hpp"
#include "common/pe.hpp"
#include "updater/history.hpp"
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

// Passes progress on and keeps each step's duration for the update history.
class StepRecorder final : public Progress {
 public:
  explicit StepRecorder(Progress& next) : next_(next) {}
  void stage_started(std::string_view stage) override { next_.stage_started(stage); }
  void stage_detail(std::string_view stage, std::string_view detail) override {
    next_.stage_detail(stage, detail);
  }
  void stage_fraction(std::string_view stage, double fraction) override {
    next_.stage_fraction(stage, fraction);
  }
  void stage_finished(std::string_view stage, std::chrono::duration<double> took) override {
    steps.push_back({std::string(stage), took.count()});
    next_.stage_finished(stage, took);
  }
  std::vector<StepTiming> steps;

 private:
  Progress& next_;
};

// Adds the install (or its failure) to the history; a history that cannot be written does not
// undo an install that worked.
void record_install(const HostOptions& host, const std::string& source, const SlotLayout& layout,
                    char booted, const Expected<InstallResult>& result,
                    std::vector<StepTiming> steps) {
  auto history = History::load(host.state);
  if (!history) return;
  UpdateRecord record{.from_version = layout.slot(booted).version(),
                      .slot = layout.other(booted).name,
                      .source = source,
                      .steps = std::move(steps)};
  if (result) {
    record.version = result->version;
    record.security_version = result->security_version;
    record.outcome = std::string(kInstalled);
    record.add_event("installed into slot " + std::string(1, result->slot) + " as " +
                     result->entry);
  } else {
    record.outcome = std::string(kInstallFailed);
    record.reason = result.error().describe();
    record.add_event("install failed: " + record.reason);
  }
  history->add(std::move(record));
  (void)history->save(host.state);
}

// An administrator's verdict on the pending update, added to its history record.
void note_outcome(const HostOptions& host, const PendingSlot& pending, std::string_view outcome,
                  std::string reason, std::string event) {
  auto history = History::load(host.state);
  if (!history) return;
  UpdateRecord* record = history->latest(pending.version, pending.slot);
  if (!record) return;
  record->outcome = std::string(outcome);
  if (!reason.empty()) record->reason = std::move(reason);
  record->add_event(std::move(event));
  (void)history->save(host.state);
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

Status record_image_floor(const HostOptions& host, const SlotLayout& layout, char booted,
                          Esp& esp) {
  auto state = CAIRN_TRY(load_state(host.state));
  // A version on trial is not the host's yet: its security version becomes the floor when it
  // commits (or never, when it fails and the host goes back).
  if (state.pending && state.pending->slot == booted) return {};
  auto image_floor = CAIRN_TRY(running_image_security_version(host, layout, booted, esp));
  if (state.security_floor >= image_floor) return {};
  state.security_floor = image_floor;
  return save_state(host.state, state);
}

Status mark_good(const HostOptions& host) {
  auto state = CAIRN_TRY(load_state(host.state));
  if (!state.pending) return fail(Errc::invalid_input, "no update is pending");
  state.security_floor = std::max(state.security_floor, state.pending->security_version);
  PendingSlot pending = *state.pending;
  state.pending.reset();
  CAIRN_CHECK(save_state(host.state, state));
  note_outcome(host, pending, kCommitted, "", "marked good by an administrator: committed");
  return {};
}

Status mark_bad(const HostOptions& host) {
  auto state = CAIRN_TRY(load_state(host.state));
  if (!state.pending) return fail(Errc::invalid_input, "no update is pending");
  auto layout = CAIRN_TRY(read_slot_layout(host.disk));
  SystemProcessRunner runner;
  auto esp = open_esp(host, layout, runner);
  for (const auto& entry : CAIRN_TRY(esp->list_entries())) {
    if (entry_is_version(entry, state.pending->version)) CAIRN_CHECK(esp->remove_entry(entry));
  }
  PendingSlot pending = *state.pending;
  state.pending.reset();
  CAIRN_CHECK(save_state(host.state, state));
  note_outcome(host, pending, kFailed, "marked bad by an administrator",
               "marked bad by an administrator: boot entry removed");
  return {};
}

Expected<InstallResult> run_install(const std::string& source, const HostOptions& host,
                                    Progress& progress) {
  auto layout = CAIRN_TRY(read_slot_layout(host.disk));
  InstallTarget target{.layout = layout,
                       .booted = CAIRN_TRY(booted_slot(layout, host.booted)),
                       .machine_class = CAIRN_TRY(machine_class(host)),
                       .boot_id = current_boot_id()};
  StepRecorder recorder(progress);
  auto result = [&]() -> Expected<InstallResult> {
    SystemProcessRunner runner;
    auto esp = open_esp(host, layout, runner);
    // The running image's floor, unless it is itself on trial (then the floor is what the host
    // committed to, in state.json).
    auto state = CAIRN_TRY(load_state(host.state));
    if (!state.pending || state.pending->slot != target.booted) {
      target.image_security_version =
          CAIRN_TRY(running_image_security_version(host, layout, target.booted, *esp));
    }
    auto verifier = CAIRN_TRY(CmsVerifier::load(host.trust));
    auto bundle = CAIRN_TRY(BundleSource::open(source, {.ca_file = host.ca_file}));
    auto reader = BundleReader::open_fd(bundle.fd(), bundle.name(),
                                        [&bundle](std::uint64_t end, std::uint64_t padded_end) {
                                          return bundle.check_end(end, padded_end);
                                        });
    if (!reader) return std::unexpected(bundle.explain(std::move(reader.error())));
    auto installed =
        install_bundle(*reader, verifier, *esp, target,
                       {.state_dir = host.state, .work_dir = host.state / "tmp"}, recorder);
    if (!installed) return std::unexpected(bundle.explain(std::move(installed.error())));
    CAIRN_CHECK(bundle.finish());
    return installed;
  }();
  // Another install holding the lock is not an update of this host: nothing to report.
  if (result || result.error().code() != Errc::busy) {
    record_install(host, source, layout, target.booted, result, std::move(recorder.steps));
  }
  return result;
}

Expected<BootAssessment> run_health(const HostOptions& host, const UpdateConfig& config,
                                    const RoundObserver& on_round) {
  auto layout = CAIRN_TRY(read_slot_layout(host.disk));
  BootContext context{.state_dir = host.state,
                      .layout = layout,
                      .booted = CAIRN_TRY(booted_slot(layout, host.booted)),
                      .boot_id = current_boot_id()};
  SystemProcessRunner runner;
  SystemdManager manager;
  SystemClock clock;
  auto esp = open_esp(host, layout, runner);
  // The running image's floor is recorded at every boot, so a host whose /var was wiped has it
  // back at once. Not fatal here: the health verdict must not depend on it, and every install
  // reads it again and refuses loudly when it cannot.
  (void)record_image_floor(host, layout, context.booted, *esp);
  auto checks = configured_checks(config.health, manager, runner);
  return assess_boot(
      context, config.health,
      {.esp = *esp, .manager = manager, .clock = clock, .checks = checks, .on_round = on_round});
}

Expected<RollbackPlan> rollback(const HostOptions& host) {
  // The same lock as an install: a rollback never races a slot being written.
  auto lock = CAIRN_TRY(take_install_lock(host.state));
  auto layout = CAIRN_TRY(read_slot_layout(host.disk));
  char booted = CAIRN_TRY(booted_slot(layout, host.booted));
  auto state = CAIRN_TRY(load_state(host.state));
  SystemProcessRunner runner;
  auto esp = open_esp(host, layout, runner);
  auto plan = CAIRN_TRY(plan_rollback(layout, booted, state, CAIRN_TRY(esp->list_entries())));
  CAIRN_CHECK(apply_rollback(plan, *esp, state));
  CAIRN_CHECK(save_state(host.state, state));
  return plan;
}

}  // namespace cairn::updater
