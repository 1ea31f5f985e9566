// One QEMU guest for an end-to-end test: q35 + OVMF (+ Secure Boot) + swtpm + an i6300esb
// hardware watchdog, booting a copy-on-write overlay of a built disk image, with its serial
// console in a log file, QMP for power control and SSH through user-mode networking on 127.0.0.1.
//
// Everything a machine owns lives under its work directory (kept after the test for reading):
//   disk.qcow2  OVMF_VARS.fd  tpm/  console.log  qemu.log  qmp.sock  journal.txt (on failure)
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "qmp.hpp"
#include "support/background_process.hpp"
#include "swtpm.hpp"

namespace cairn::qemu {

using namespace std::chrono_literals;

// After a warm reset OVMF prints its first line within about 10 s, 30 s on a loaded machine. A
// console silent for this long after a reset is a firmware that will not come back.
inline constexpr std::chrono::seconds kFirmwareSilence{90};

struct MachineOptions {
  std::string name;                 // directory name and messages
  std::filesystem::path disk;       // raw disk image; only read (a qcow2 overlay takes writes)
  std::filesystem::path work_dir;   // emptied and created
  std::filesystem::path ovmf_vars;  // variable store to start from (copied)
  std::filesystem::path ssh_key;    // private key of the image's test admin
  std::string ssh_user = "cairn-test";
  bool secure_boot = true;  // OVMF_CODE_4M.secboot.fd with SMM
  bool tpm = true;
  bool exit_on_reset = false;  // -no-reboot: a guest reset ends QEMU (key enrollment)
  // A reset by the guest (reboot, i6300esb expiry, panic) ends this QEMU and the next boot runs
  // in a fresh one on the same disk, variable store and TPM state, as after a power cycle. Under
  // TCG, OVMF after a warm reset in a QEMU that already ran a full boot takes 2-5 times the CPU
  // time from BdsDxe to the kernel (DxeCore's memory fills run slower) and now and then never
  // comes back (silent_reset.cpp); after a fresh start it does neither. reset() stays a warm
  // reset.
  bool cold_reboot = true;
  unsigned memory_mib = 1024;
  unsigned cpus = 2;
  std::vector<std::string> extra_qemu_args;  // e.g. a watchdog device
  // Options appended to the user-mode NIC, e.g. "guestfwd=tcp:10.0.2.100:80-cmd:socat - TCP:…"
  // (a guest address that reaches a server on the host's loopback).
  std::vector<std::string> nic_options;
  // Console silence after a reset that counts as a firmware hang (shorter in the harness's test).
  std::chrono::seconds firmware_silence = kFirmwareSilence;
};

struct GuestResult {
  int exit_code = 0;
  std::string output;  // stdout
};

class Machine {
 public:
  // Prepares the work directory (overlay, variable store copy); starts nothing.
  static Expected<Machine> create(MachineOptions options);
  Machine(Machine&&) noexcept;
  Machine& operator=(Machine&&) = delete;
  ~Machine();

  // Starts swtpm (once; it keeps running across QEMU restarts, as a TPM chip stays powered) and
  // QEMU, and connects to QMP.
  Status start();
  bool running();
  // Seconds since the last start(), for boot times.
  double uptime() const;

  // Console. Positions are byte offsets in console.log, which survives QEMU restarts.
  std::size_t console_mark() const;
  std::string console_text(std::size_t from = 0) const;
  // Waits until `pattern` matches a line printed at or after `from`; returns that line. Fails
  // early when QEMU exits first.
  Expected<std::string> wait_for_console(const std::regex& pattern, std::chrono::seconds timeout,
                                         std::size_t from = 0);

  // Guest commands over SSH as root (sudo), each a shell command line.
  Status wait_for_ssh(std::chrono::seconds timeout);
  Expected<GuestResult> run(const std::string& command, std::chrono::seconds timeout = 60s);
  // Copies a host file into the guest (scp, as the test admin) at `remote`.
  Status copy_to_guest(const std::filesystem::path& local, const std::string& remote);
  // Like run, but a non-zero exit is an error carrying the command's output.
  Expected<std::string> run_checked(const std::string& command, std::chrono::seconds timeout = 60s);

  // Power. power_off asks the guest (ACPI) and waits for QEMU to exit; reset is a hard reset;
  // power_cut is QMP quit: QEMU stops at once, the guest gets no chance to sync.
  Status power_off(std::chrono::seconds timeout = 60s);
  Status reset();
  Status power_cut();
  // Freezes the guest (QMP stop) as a hung machine would be; only reset or power_cut end it.
  Status pause();
  // Waits for QEMU to exit on its own (guest shutdown, or a reset with exit_on_reset).
  Expected<int> wait_for_exit(std::chrono::seconds timeout);
  // How often the emulated i6300esb watchdog expired (QMP WATCHDOG events; its action is a
  // reset) since the machine was created, across power cuts and restarts. A kernel's software
  // watchdog never counts here.
  Expected<int> watchdog_expiries();

  // Saves what helps to understand a failure (guest journal if reachable, last console lines)
  // and returns a short report naming the files.
  std::string collect_logs();

  const MachineOptions& options() const { return options_; }
  std::filesystem::path console_log() const { return options_.work_dir / "console.log"; }
  std::filesystem::path overlay() const { return options_.work_dir / "disk.qcow2"; }
  std::filesystem::path vars() const { return options_.work_dir / "OVMF_VARS.fd"; }
  std::uint16_t ssh_port() const { return ssh_port_; }
  // Process ids of the QEMU and swtpm now running (for tests of the harness itself).
  std::vector<pid_t> pids() const;

 private:
  explicit Machine(MachineOptions options, std::uint16_t ssh_port);
  std::vector<std::string> qemu_command() const;
  std::vector<std::string> ssh_command(const std::string& command) const;
  void stop_all();
  // A warm reset the firmware never came back from (see silent_reset.cpp): the console has been
  // silent since QEMU last reset the machine (the guest, the watchdog or reset()).
  bool silent_after_reset();
  int count_events(std::string_view name) const;
  // Drops the QMP connection of a QEMU that ended, keeping the counts tests ask for.
  void forget_qmp();
  Status power_cycle_after_silent_reset();
  // QEMU ended because the guest reset the machine (cold_reboot): it is started again.
  bool ended_by_guest_reset();
  Status start_after_guest_reset();
  // What QEMU's and swtpm's threads are doing, and QEMU's own run state (QMP).
  std::string process_report();

  MachineOptions options_;
  std::uint16_t ssh_port_ = 0;
  std::optional<Swtpm> swtpm_;
  std::optional<testing::BackgroundProcess> qemu_;
  std::optional<QmpClient> qmp_;
  std::chrono::steady_clock::time_point started_{};
  int silent_resets_ = 0;
  int watchdog_expiries_before_restarts_ = 0;  // reported by earlier QEMU processes
};

// True when QEMU can use KVM here (else TCG).
bool have_kvm();

// The machines alive right now (for collecting logs when an assertion fails).
std::vector<Machine*> live_machines_snapshot();

}  // namespace cairn::qemu
