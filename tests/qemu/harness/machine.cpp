#include "machine.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "common/fs.hpp"
#include "common/process.hpp"
#include "support/free_port.hpp"

namespace cairn::qemu {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kOvmfCode = "/usr/share/OVMF/OVMF_CODE_4M.fd";
constexpr const char* kOvmfSecureBootCode = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd";

// Machines alive now, so a failed assertion anywhere can collect their logs (see listener.cpp).
std::mutex live_mutex;
std::set<Machine*> live_machines;

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

bool have_kvm() {
  // CAIRN_QEMU_ACCEL=tcg|kvm overrides the guess.
  if (const char* accel = std::getenv("CAIRN_QEMU_ACCEL"); accel && *accel) {
    return std::string_view(accel) == "kvm";
  }
  if (::access("/dev/kvm", R_OK | W_OK) != 0) return false;
  // Some VMs expose /dev/kvm without nested virtualisation, where KVM fails at the first
  // instruction: trust it only when the CPU advertises VT-x or AMD-V.
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (!line.starts_with("flags")) continue;
    std::istringstream flags(line);
    for (std::string flag; flags >> flag;) {
      if (flag == "vmx" || flag == "svm") return true;
    }
    return false;
  }
  return false;
}

std::vector<Machine*> live_machines_snapshot() {
  std::lock_guard lock(live_mutex);
  return {live_machines.begin(), live_machines.end()};
}

Machine::Machine(MachineOptions options, std::uint16_t ssh_port)
    : options_(std::move(options)), ssh_port_(ssh_port) {
  std::lock_guard lock(live_mutex);
  live_machines.insert(this);
}

Machine::Machine(Machine&& other) noexcept
    : options_(std::move(other.options_)),
      ssh_port_(other.ssh_port_),
      swtpm_(std::move(other.swtpm_)),
      qemu_(std::move(other.qemu_)),
      qmp_(std::move(other.qmp_)),
      started_(other.started_) {
  other.options_.work_dir.clear();  // the overlay is this object's to drop now
  std::lock_guard lock(live_mutex);
  live_machines.erase(&other);
  live_machines.insert(this);
}

Machine::~Machine() {
  stop_all();
  // The overlay holds everything the guest wrote (a copied bundle, a written slot: hundreds of
  // MB per machine), and a full qemu run boots dozens of machines on CI disks that are not
  // large. Console, journal and process reports are kept; CAIRN_QTEST_KEEP_DISKS=1 keeps the
  // overlay too, for a look at a failed guest's disk.
  const char* keep = std::getenv("CAIRN_QTEST_KEEP_DISKS");
  if (!options_.work_dir.empty() && !(keep && std::string_view(keep) == "1")) {
    std::error_code ec;
    fs::remove(overlay(), ec);
    // Bundles built for this machine (update_flow's bundle_of) are as large.
    for (const auto& entry : fs::directory_iterator(options_.work_dir, ec)) {
      if (entry.path().extension() == ".cairnb") fs::remove(entry.path(), ec);
    }
  }
  std::lock_guard lock(live_mutex);
  live_machines.erase(this);
}

Expected<Machine> Machine::create(MachineOptions options) {
  std::error_code ec;
  if (!fs::is_regular_file(options.disk, ec)) {
    return fail(Errc::not_found, "disk image " + options.disk.string() + " does not exist");
  }
  fs::remove_all(options.work_dir, ec);
  fs::create_directories(options.work_dir, ec);
  if (ec) return fail(Errc::io, "creating " + options.work_dir.string() + ": " + ec.message());
  options.work_dir = fs::absolute(options.work_dir);
  SystemProcessRunner runner;
  CAIRN_CHECK(run_step(
      runner,
      {.argv = {"qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                fs::absolute(options.disk).string(), (options.work_dir / "disk.qcow2").string()}},
      "creating the disk overlay"));
  fs::copy_file(options.ovmf_vars, options.work_dir / "OVMF_VARS.fd", ec);
  if (ec) return fail(Errc::io, "copying " + options.ovmf_vars.string() + ": " + ec.message());
  // The SSH forward's port: the kernel picks it, QEMU binds it next.
  auto port = CAIRN_TRY(testing::free_loopback_port());
  return Machine(std::move(options), port);
}

std::vector<std::string> Machine::qemu_command() const {
  const fs::path& dir = options_.work_dir;
  bool kvm = have_kvm();
  std::vector<std::string> argv = {
      "qemu-system-x86_64", "-name", options_.name, "-machine",
      std::string("q35,accel=") + (kvm ? "kvm" : "tcg") + (options_.secure_boot ? ",smm=on" : ""),
      "-m", std::to_string(options_.memory_mib), "-smp", std::to_string(options_.cpus), "-display",
      "none", "-vga", "none", "-monitor", "none", "-drive",
      std::string("if=pflash,format=raw,unit=0,readonly=on,file=") +
          (options_.secure_boot ? kOvmfSecureBootCode : kOvmfCode),
      "-drive", "if=pflash,format=raw,unit=1,file=" + (dir / "OVMF_VARS.fd").string(),
      // bootindex: the firmware boots the disk first even when its stored boot options predate
      // a device (it would otherwise try PXE and HTTP boot first, minutes under TCG).
      "-drive", "if=none,id=disk,format=qcow2,file=" + (dir / "disk.qcow2").string(), "-device",
      "virtio-blk-pci,drive=disk,bootindex=1", "-nic",
      "user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:" + std::to_string(ssh_port_) + "-:22",
      // append: the console log of every boot of this machine, one after the other.
      "-chardev", "file,id=console,append=on,path=" + (dir / "console.log").string(), "-serial",
      "chardev:console", "-qmp", "unix:" + (dir / "qmp.sock").string() + ",server=on,wait=off"};
  for (const auto& option : options_.nic_options) {
    auto nic = std::ranges::find(argv, "-nic");
    *(nic + 1) += "," + option;
  }
  if (kvm) argv.insert(argv.end(), {"-cpu", "host"});
  // A hardware watchdog as hosts have; an expiry resets the machine (QEMU's default action).
  // Kernels without its driver (the cloud kernel) simply leave it disarmed.
  argv.insert(argv.end(), {"-device", "i6300esb"});
  if (options_.secure_boot) {
    // Only SMM code may write the variable store, so the OS cannot forge Secure Boot keys.
    argv.insert(argv.end(), {"-global", "driver=cfi.pflash01,property=secure,value=on"});
  }
  if (options_.tpm && swtpm_) {
    argv.insert(argv.end(),
                {"-chardev", "socket,id=tpm,path=" + swtpm_->socket().string(), "-tpmdev",
                 "emulator,id=tpm0,chardev=tpm", "-device", "tpm-tis,tpmdev=tpm0"});
  }
  // cold_reboot: a guest reset ends QEMU and running() starts it again (reset() switches the
  // action back for its own warm reset).
  if (options_.exit_on_reset || options_.cold_reboot) argv.push_back("-no-reboot");
  argv.insert(argv.end(), options_.extra_qemu_args.begin(), options_.extra_qemu_args.end());
  return argv;
}

Status Machine::start() {
  if (qemu_ && qemu_->running()) return fail(Errc::busy, options_.name + " is already running");
  if (options_.tpm) {
    // swtpm ends with the QEMU that used it; a fresh one on the same state is the same TPM.
    swtpm_.reset();
    swtpm_.emplace(CAIRN_TRY(Swtpm::start(options_.work_dir / "tpm")));
  }
  std::error_code ec;
  fs::remove(options_.work_dir / "qmp.sock", ec);
  forget_qmp();
  started_ = Clock::now();
  qemu_.emplace(
      CAIRN_TRY(testing::BackgroundProcess::start(qemu_command(), options_.work_dir / "qemu.log")));
  auto qmp = QmpClient::connect(options_.work_dir / "qmp.sock");
  if (!qmp) {
    return fail(Errc::process, "QEMU did not start (" + qmp.error().message() + "); see " +
                                   (options_.work_dir / "qemu.log").string());
  }
  qmp_.emplace(std::move(*qmp));
  return {};
}

bool Machine::running() {
  if (!qemu_) return false;
  if (qemu_->running()) return true;
  return ended_by_guest_reset() && static_cast<bool>(start_after_guest_reset());
}

bool Machine::ended_by_guest_reset() {
  if (!qmp_ || options_.exit_on_reset || !options_.cold_reboot) return false;
  qmp_->read_remaining_events();
  const auto& events = qmp_->events();
  for (auto event = events.rbegin(); event != events.rend(); ++event) {
    if (event->value("event", "") != "SHUTDOWN") continue;
    // A guest reboot and an i6300esb expiry are both "guest-reset" under -no-reboot.
    return event->contains("data") && (*event)["data"].value("reason", "") == "guest-reset";
  }
  return false;
}

Status Machine::start_after_guest_reset() {
  auto started = started_;  // uptime() counts from the machine's own start(), not this one
  forget_qmp();             // keeps the WATCHDOG events it read
  CAIRN_CHECK(start());
  started_ = started;
  return {};
}

double Machine::uptime() const {
  return std::chrono::duration<double>(Clock::now() - started_).count();
}

std::size_t Machine::console_mark() const {
  std::error_code ec;
  auto size = fs::file_size(console_log(), ec);
  return ec ? 0 : static_cast<std::size_t>(size);
}

std::string Machine::console_text(std::size_t from) const {
  std::ifstream in(console_log(), std::ios::binary);
  in.seekg(static_cast<std::streamoff>(from));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Expected<std::string> Machine::wait_for_console(const std::regex& pattern,
                                                std::chrono::seconds timeout, std::size_t from) {
  auto deadline = Clock::now() + timeout;
  std::size_t searched = from;  // lines before this offset were already checked
  std::size_t console_size = console_mark();
  auto console_grew = Clock::now();
  for (;;) {
    if (std::size_t size = console_mark(); size != console_size) {
      console_size = size;
      console_grew = Clock::now();
    } else if (Clock::now() - console_grew >= options_.firmware_silence && silent_after_reset()) {
      CAIRN_CHECK(power_cycle_after_silent_reset());
      console_grew = Clock::now();
    }
    std::string text = console_text(searched);
    std::size_t line_start = 0;
    for (std::size_t end; (end = text.find('\n', line_start)) != std::string::npos;
         line_start = end + 1) {
      std::string line = text.substr(line_start, end - line_start);
      if (std::regex_search(line, pattern)) return line;
    }
    searched += line_start;
    bool exited = !running();
    if (exited || Clock::now() >= deadline) {
      // The last, unterminated line counts too (a login prompt has no newline).
      std::string tail = console_text(searched);
      if (std::regex_search(tail, pattern)) return tail;
      return fail(exited ? Errc::process : Errc::busy,
                  options_.name + ": console pattern not seen " +
                      (exited ? std::string("before QEMU exited")
                              : "within " + std::to_string(timeout.count()) + " s") +
                      " (console: " + console_log().string() + ")");
    }
    std::this_thread::sleep_for(200ms);
  }
}

std::vector<std::string> Machine::ssh_command(const std::string& command) const {
  return {"ssh",
          "-q",
          "-i",
          options_.ssh_key.string(),
          "-p",
          std::to_string(ssh_port_),
          "-o",
          "StrictHostKeyChecking=no",
          "-o",
          "UserKnownHostsFile=/dev/null",
          "-o",
          "BatchMode=yes",
          "-o",
          "ConnectTimeout=5",
          "-o",
          "ServerAliveInterval=5",
          options_.ssh_user + "@127.0.0.1",
          "sudo -n sh -c " + shell_quote(command)};
}

Expected<GuestResult> Machine::run(const std::string& command, std::chrono::seconds timeout) {
  std::vector<std::string> argv = {"timeout", "-k", "5", std::to_string(timeout.count())};
  auto ssh = ssh_command(command);
  argv.insert(argv.end(), ssh.begin(), ssh.end());
  SystemProcessRunner runner;
  auto result = CAIRN_TRY(runner.run({.argv = argv, .capture_stdout = true}));
  if (result.exit_code == 124 || result.exit_code == 137) {
    return fail(Errc::busy, options_.name + ": guest command timed out after " +
                                std::to_string(timeout.count()) + " s: " + command);
  }
  if (result.exit_code == 255) {
    return fail(Errc::unavailable, options_.name + ": ssh failed: " + result.stderr_tail +
                                       " (command: " + command + ")");
  }
  return GuestResult{.exit_code = result.exit_code, .output = std::move(result.stdout_text)};
}

Status Machine::copy_to_guest(const fs::path& local, const std::string& remote) {
  SystemProcessRunner runner;
  return run_step(runner,
                  {.argv = {"timeout", "300", "scp", "-q", "-i", options_.ssh_key.string(), "-P",
                            std::to_string(ssh_port_), "-o", "StrictHostKeyChecking=no", "-o",
                            "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", local.string(),
                            options_.ssh_user + "@127.0.0.1:" + remote}},
                  options_.name + ": copying " + local.filename().string() + " into the guest");
}

Expected<std::string> Machine::run_checked(const std::string& command,
                                           std::chrono::seconds timeout) {
  auto result = CAIRN_TRY(run(command, timeout));
  if (result.exit_code != 0) {
    return fail(Errc::process, options_.name + ": `" + command + "` exited with " +
                                   std::to_string(result.exit_code) + ": " + result.output);
  }
  return std::move(result.output);
}

Status Machine::wait_for_ssh(std::chrono::seconds timeout) {
  auto deadline = Clock::now() + timeout;
  // Until the guest's network is up, QEMU's user-mode network accepts the connection and ssh
  // waits for a banner that never comes: such attempts are cut short so the boot time measured
  // here is not rounded up by a stuck attempt. Once an attempt was refused (the guest answers),
  // a login may take its time on a loaded machine.
  auto attempt_timeout = 6s;
  for (;;) {
    auto result = run("true", attempt_timeout);
    if (result && result->exit_code == 0) return {};
    if (!result && result.error().code() == Errc::unavailable) attempt_timeout = 30s;
    if (!running()) {
      return fail(Errc::process, options_.name + ": QEMU exited before SSH came up (console: " +
                                     console_log().string() + ")");
    }
    if (Clock::now() >= deadline) {
      return fail(Errc::busy, options_.name + ": no SSH within " + std::to_string(timeout.count()) +
                                  " s (console: " + console_log().string() + ")");
    }
    std::this_thread::sleep_for(1s);
  }
}

Status Machine::power_off(std::chrono::seconds timeout) {
  if (!qmp_) return fail(Errc::internal, options_.name + " is not running");
  CAIRN_TRY(qmp_->execute("system_powerdown"));
  auto code = CAIRN_TRY(wait_for_exit(timeout));
  if (code != 0) {
    return fail(Errc::process, options_.name + ": QEMU exited with " + std::to_string(code));
  }
  return {};
}

Status Machine::reset() {
  if (!qmp_) return fail(Errc::internal, options_.name + " is not running");
  // A warm reset, also with cold_reboot (whose -no-reboot would end QEMU instead).
  if (options_.cold_reboot && !options_.exit_on_reset) {
    CAIRN_TRY(qmp_->execute("set-action", {{"reboot", "reset"}}));
  }
  CAIRN_TRY(qmp_->execute("system_reset"));
  if (options_.cold_reboot && !options_.exit_on_reset) {
    CAIRN_TRY(qmp_->execute("set-action", {{"reboot", "shutdown"}}));
  }
  return {};
}

Status Machine::power_cut() {
  if (!qmp_) return fail(Errc::internal, options_.name + " is not running");
  if (qemu_ && !qemu_->running() && ended_by_guest_reset()) {
    forget_qmp();  // a cold reboot not started yet: the power is off already
    return {};
  }
  CAIRN_CHECK(qmp_->send_only("quit"));
  if (wait_for_exit(30s)) return {};
  // QEMU can miss a quit while it resets the machine on a loaded host (a 22-cut soak saw it);
  // killing the process is the same power loss for the guest: nothing is synced either way.
  qemu_->stop(0ms);
  forget_qmp();
  return {};
}

Expected<int> Machine::wait_for_exit(std::chrono::seconds timeout) {
  if (!qemu_) return fail(Errc::internal, options_.name + " was never started");
  auto code = qemu_->wait(timeout);
  if (!code) return with_context(std::move(code), options_.name);
  forget_qmp();
  return code;
}

void Machine::forget_qmp() {
  watchdog_expiries_before_restarts_ += count_events("WATCHDOG");
  qmp_.reset();
}

Expected<int> Machine::watchdog_expiries() {
  if (!qmp_) return fail(Errc::internal, options_.name + " is not running");
  // Any command reads the events QEMU queued before its answer.
  CAIRN_TRY(qmp_->execute("query-status"));
  return watchdog_expiries_before_restarts_ + count_events("WATCHDOG");
}

int Machine::count_events(std::string_view name) const {
  if (!qmp_) return 0;
  const auto& events = qmp_->events();
  return static_cast<int>(std::count_if(events.begin(), events.end(), [name](const auto& event) {
    return event.value("event", "") == name;
  }));
}

std::string Machine::collect_logs() {
  std::string console = console_text();
  // A copy as it was at the failure: a rerun of the test would start this log afresh.
  auto kept = options_.work_dir.parent_path() / (options_.name + ".failed-console.log");
  std::string report = options_.name + ": console " +
                       (write_file_atomic(kept, console) ? kept : console_log()).string();
  if (!running()) {
    report += " (QEMU no longer runs)";
  } else if (auto journal = run("journalctl -b --no-pager -o short-monotonic", 30s);
             journal && journal->exit_code == 0) {
    auto path = options_.work_dir.parent_path() / (options_.name + ".failed-journal.txt");
    if (write_file_atomic(path, journal->output)) report += ", journal " + path.string();
  } else {
    report +=
        " (no journal: the guest does not answer over SSH: " +
        (journal ? "exit " + std::to_string(journal->exit_code) : journal.error().describe()) + ")";
  }
  if (running()) {
    // A guest that went silent: is QEMU spinning (firmware loop) or blocked on a peer (swtpm)?
    auto state = options_.work_dir.parent_path() / (options_.name + ".failed-processes.txt");
    std::string processes = process_report();
    if (write_file_atomic(state, processes)) report += ", processes " + state.string();
  }
  std::size_t start = console.size();
  for (int lines = 0; start > 0 && lines < 15; --start) {
    if (console[start - 1] == '\n') ++lines;
  }
  return report + "\nlast console lines:\n" + console.substr(start);
}

std::vector<pid_t> Machine::pids() const {
  std::vector<pid_t> out;
  if (qemu_ && qemu_->pid() > 0) out.push_back(qemu_->pid());
  if (swtpm_ && swtpm_->pid() > 0) out.push_back(swtpm_->pid());
  return out;
}

void Machine::stop_all() {
  qmp_.reset();
  if (qemu_) qemu_->stop();
  qemu_.reset();
  swtpm_.reset();
}

}  // namespace cairn::qemu
