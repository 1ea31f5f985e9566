// QEMU under TCG with SMM, on these 2-core machines, now and then never gets through OVMF after a
// warm reset: the guest's kernel prints "reboot: machine restart" (or the i6300esb watchdog
// resets it silently) and then nothing comes, not even the firmware's first line, for as long as
// one waits (seen in about one of 40 reboots; QEMU 7.2, OVMF 2022.11; never after a cold start).
// The product has finished by then: the machine was reset and the next boot has not begun. A
// server's BMC would power-cycle such a host, and the harness does the same — visibly: a note on
// stdout, and what QEMU's and swtpm's threads were doing kept beside the console log, to find the
// cause.
#include <chrono>
#include <cstdio>
#include <optional>

#include "common/fs.hpp"
#include "machine.hpp"
#include "process_snapshot.hpp"

namespace cairn::qemu {

namespace {

// Power cycles one machine may get: a firmware that never comes back is then a real failure.
constexpr int kMaxPowerCycles = 3;

// When QEMU last reset the machine, by its RESET events: it reports every reset, the guest's,
// the watchdog's (which prints nothing on the console) and QMP's system_reset.
std::optional<std::chrono::system_clock::time_point> last_reset(
    const std::vector<nlohmann::json>& events) {
  for (auto event = events.rbegin(); event != events.rend(); ++event) {
    if (event->value("event", "") != "RESET" || !event->contains("timestamp")) continue;
    const auto& stamp = (*event)["timestamp"];
    return std::chrono::system_clock::time_point(
        std::chrono::seconds(stamp.value("seconds", std::int64_t{0})) +
        std::chrono::microseconds(stamp.value("microseconds", std::int64_t{0})));
  }
  return std::nullopt;
}

}  // namespace

Status Machine::pause() {
  if (!qmp_) return fail(Errc::internal, options_.name + " is not running");
  CAIRN_TRY(qmp_->execute("stop"));
  return {};
}

std::string Machine::process_report() {
  std::string report = describe_processes(pids());
  if (qmp_) {
    auto status = qmp_->execute("query-status");
    report += "QMP query-status: " + (status ? status->dump() : status.error().describe()) + "\n";
  }
  return report;
}

bool Machine::silent_after_reset() {
  if (!qemu_ || silent_resets_ >= kMaxPowerCycles) return false;
  // QEMU reports every reset as an event, so one check covers all of them (a kernel's "reboot:"
  // line comes before its reset). Any command reads the events QEMU queued before its answer.
  if (!qmp_ || !qmp_->execute("query-status")) return false;
  auto reset = last_reset(qmp_->events());
  std::error_code ec;
  auto console_written = std::filesystem::last_write_time(console_log(), ec);
  if (!reset || ec) return false;
  return *reset >= std::chrono::file_clock::to_sys(console_written);
}

Status Machine::power_cycle_after_silent_reset() {
  ++silent_resets_;
  auto report = options_.work_dir.parent_path() /
                (options_.name + ".silent-reset-" + std::to_string(silent_resets_) + ".txt");
  (void)write_file_atomic(report, process_report());
  std::printf(
      "note: %s: no firmware output %lld s after a reset; power-cycling it (a QEMU/OVMF "
      "warm-reset hang under TCG, not the guest; threads of QEMU and swtpm in %s)\n",
      options_.name.c_str(), static_cast<long long>(options_.firmware_silence.count()),
      report.c_str());
  std::fflush(stdout);
  CAIRN_CHECK(power_cut());
  return start();
}

}  // namespace cairn::qemu
