#include "updater/install.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "common/fs.hpp"
#include "common/version.hpp"

namespace cairn::updater {

namespace fs = std::filesystem;

namespace {

Status check_fits(const ManifestPayload& payload, const GptPartition& partition) {
  if (payload.size > partition.size_bytes) {
    return fail(Errc::invalid_input,
                "payload " + payload.name + " (" + std::to_string(payload.size) +
                    " bytes) is larger than its slot partition " + partition.label + " (" +
                    std::to_string(partition.size_bytes) + " bytes)");
  }
  return {};
}

// A regular file may take fewer bytes than asked (a full file system does): retry, and report
// the errno of the write that failed.
Status write_all(int fd, std::span<const std::uint8_t> bytes, const fs::path& path) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("writing " + path.string(), errno);
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  return {};
}

Status check_stop(const std::stop_token& stop) {
  if (stop.stop_requested()) return fail(Errc::cancelled, "install cancelled");
  return {};
}

// Runs the steps, each timed for Progress and the history, each a lifecycle point when done.
class StepRunner {
 public:
  StepRunner(InstallSeams& seams) : seams_(seams) {}
  template <typename Step>
  Status run(std::string_view name, Step&& step) {
    CAIRN_CHECK(check_stop(seams_.stop));
    seams_.progress.stage_started(name);
    auto started = std::chrono::steady_clock::now();
    CAIRN_CHECK(step());
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    timings.push_back({std::string(name), took.count()});
    seams_.progress.stage_finished(name, took);
    seams_.lifecycle.reached(name);
    return {};
  }
  std::vector<StepTiming> timings;

 private:
  InstallSeams& seams_;
};

// Streams every payload to its place: the partitions, and the UKI into a staging file.
Status write_payloads(const InstallPlan& plan, BundleReader& reader, InstallSeams& seams,
                      const fs::path& uki) {
  auto uki_fd = CAIRN_TRY(open_file(uki, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  std::uint64_t total = 0, done = 0;
  for (const auto& payload : plan.manifest.payloads) total += payload.size;
  for (const auto& payload : plan.manifest.payloads) {
    const GptPartition* partition = payload.target == PayloadTarget::root     ? &plan.target.root
                                    : payload.target == PayloadTarget::verity ? &plan.target.verity
                                                                              : nullptr;
    std::uint64_t offset = 0;
    CAIRN_TRY(reader.read_next_payload([&](std::span<const std::uint8_t> bytes) -> Status {
      CAIRN_CHECK(check_stop(seams.stop));
      if (partition) {
        CAIRN_CHECK(seams.device.write(*partition, offset, bytes));
      } else {
        CAIRN_CHECK(write_all(uki_fd.get(), bytes, uki));
      }
      offset += bytes.size();
      done += bytes.size();
      seams.progress.stage_bytes("write", done, total);
      return {};
    }));
  }
  CAIRN_CHECK(reader.finish());
  if (::fsync(uki_fd.get()) != 0) return fail_errno("fsync " + uki.string(), errno);
  return seams.device.sync();
}

}  // namespace

std::vector<std::string> entries_to_retire(const std::vector<std::string>& entries,
                                           const InstallTarget& target,
                                           std::string_view incoming_version) {
  std::string running = target.layout.slot(target.booted).version();
  std::string target_version = target.layout.other(target.booted).version();
  std::vector<std::string> retiring;
  for (const auto& name : entries) {
    auto entry = parse_boot_entry_name(name);
    if (!entry || (!running.empty() && entry->version == running)) continue;
    if (entry->version == target_version || entry->version == incoming_version) {
      retiring.push_back(name);
    }
  }
  return retiring;
}

Status check_esp_room(Esp& esp, std::uint64_t uki_bytes, const std::vector<std::string>& retiring) {
  std::uint64_t room = CAIRN_TRY(esp.free_bytes());
  for (const auto& entry : retiring) room += CAIRN_TRY(esp.entry_bytes(entry));
  if (uki_bytes + kEspSlackBytes <= room) return {};
  return fail(Errc::no_space, "the UKI (" + std::to_string(uki_bytes) +
                                  " bytes) does not fit on the ESP: " + std::to_string(room) +
                                  " bytes free, counting the entries this install replaces, and " +
                                  std::to_string(kEspSlackBytes) + " must stay in reserve");
}

Status check_compatible(const BundleManifest& manifest, const InstallTarget& target,
                        const HostState& state) {
  if (manifest.machine_class != target.machine_class) {
    return fail(Errc::invalid_input, "bundle is for machine class " + manifest.machine_class +
                                         ", this host is " + target.machine_class);
  }
  // The floor is never below the running image's own security version: a host whose state was
  // wiped (or never written) still refuses what the image it runs has superseded.
  std::uint64_t floor = std::max(state.security_floor, target.image_security_version);
  if (manifest.security_version < floor) {
    std::string why = floor == state.security_floor ? "the highest installed so far"
                                                    : "the running image's security version";
    return fail(Errc::invalid_input, "bundle " + manifest.version + " has security version " +
                                         std::to_string(manifest.security_version) +
                                         ", below this host's floor " + std::to_string(floor) +
                                         " (" + why + "): downgrade refused");
  }
  std::string running = target.layout.slot(target.booted).version();
  if (manifest.version == running) {
    return fail(Errc::invalid_input, "version " + manifest.version + " is already running (slot " +
                                         std::string(1, target.booted) + ")");
  }
  if (!running.empty() && compare_versions(manifest.version, running) < 0 &&
      !target.allow_downgrade) {
    return fail(Errc::invalid_input, "bundle " + manifest.version + " is older than the running " +
                                         running + ": pass --allow-downgrade to install it");
  }
  const Slot& slot = target.layout.other(target.booted);
  CAIRN_CHECK(check_fits(*manifest.find(PayloadTarget::root), slot.root));
  return check_fits(*manifest.find(PayloadTarget::verity), slot.verity);
}

Expected<InstallPlan> plan_install(BundleReader& reader, SignatureVerifier& verifier,
                                   const InstallTarget& target, const HostState& state, Esp& esp) {
  InstallPlan plan{.manifest = CAIRN_TRY(reader.read_manifest(verifier)),
                   .target = target.layout.other(target.booted)};
  CAIRN_CHECK(check_compatible(plan.manifest, target, state));
  // The space earlier interrupted installs took (a 20-cut soak filled the ESP with salvaged
  // chains until the next UKI no longer fitted): reclaimed before the room is counted.
  CAIRN_TRY(esp.reclaim_debris());
  plan.retiring = entries_to_retire(CAIRN_TRY(esp.list_entries()), target, plan.manifest.version);
  // Room first: a UKI that cannot fit must not cost the host its other slot.
  CAIRN_CHECK(check_esp_room(esp, plan.manifest.find(PayloadTarget::uki)->size, plan.retiring));
  plan.entry = new_entry_name(plan.manifest.version);
  plan.identity = CAIRN_TRY(version_slot_identity(plan.manifest.version, plan.manifest.root_hash));
  return plan;
}

Expected<InstallResult> run_install_plan(const InstallPlan& plan, BundleReader& reader,
                                         const InstallTarget& target, InstallSeams seams,
                                         std::string source) {
  const BundleManifest& manifest = plan.manifest;
  CAIRN_CHECK(seams.lifecycle.begin_install({.slot = plan.target.name,
                                             .version = manifest.version,
                                             .security_version = manifest.security_version,
                                             .install_boot_id = target.boot_id},
                                            target.layout.slot(target.booted).version(),
                                            std::move(source)));
  StepRunner steps(seams);
  steps.timings.push_back({"verify", plan.verify_seconds});
  auto installed = [&]() -> Status {
    CAIRN_CHECK(steps.run("retire", [&]() -> Status {
      for (const auto& entry : plan.retiring) CAIRN_CHECK(seams.esp.remove_entry(entry));
      return seams.device.set_identity(plan.target, empty_slot_identity(plan.target.name));
    }));
    // The UKI waits here until the slot is checked; removed whatever happens.
    auto staging = CAIRN_TRY(TempDir::create(seams.work_dir, ".cairn-install-"));
    fs::path uki = staging.path() / "uki.efi";
    CAIRN_CHECK(steps.run("write", [&]() -> Status {
      CAIRN_CHECK(write_payloads(plan, reader, seams, uki));
      return seams.source_complete ? seams.source_complete() : Status{};
    }));
    CAIRN_CHECK(steps.run("check", [&]() -> Status {
      CAIRN_CHECK(seams.device.verify(plan.target, manifest.root_hash));
      return seams.check_uki ? seams.check_uki(uki) : Status{};
    }));
    CAIRN_CHECK(steps.run("identify",
                          [&] { return seams.device.set_identity(plan.target, plan.identity); }));
    CAIRN_CHECK(check_stop(seams.stop));
    CAIRN_CHECK(seams.lifecycle.install_done(steps.timings));
    // Last: the entry is what makes the slot bootable.
    return steps.run("activate", [&] { return seams.esp.install_entry(uki, plan.entry); });
  }();
  if (!installed) {
    // Back to a target that holds nothing and boots nothing (its old entries go too, as their
    // slot is named empty); the running slot is not touched.
    for (const auto& entry : plan.retiring) (void)seams.esp.remove_entry(entry);
    if (manifest.version != target.layout.slot(target.booted).version()) {
      (void)remove_entries_of(seams.esp, manifest.version);
    }
    (void)seams.device.set_identity(plan.target, empty_slot_identity(plan.target.name));
    (void)seams.lifecycle.install_stopped(installed.error(), steps.timings);
    return std::unexpected(std::move(installed.error()));
  }
  seams.lifecycle.note_steps(steps.timings);
  return InstallResult{.slot = plan.target.name,
                       .version = manifest.version,
                       .entry = plan.entry,
                       .security_version = manifest.security_version};
}

}  // namespace cairn::updater
