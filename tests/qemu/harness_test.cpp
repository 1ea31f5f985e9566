// The harness itself: whatever a test does, the processes a machine started do not outlive it.
#include <catch2/catch.hpp>
#include <csignal>
#include <regex>
#include <stdexcept>

#include "common/fs.hpp"
#include "harness/environment.hpp"
#include "harness/machine.hpp"
#include "harness/process_snapshot.hpp"
#include "harness/test_support.hpp"

using namespace cairn;
using namespace cairn::qemu;

namespace {

bool alive(pid_t pid) { return ::kill(pid, 0) == 0; }

}  // namespace

TEST_CASE("the harness stops QEMU and swtpm when a test throws", "[harness]") {
  auto env = require(TestEnvironment::from_env());
  auto options = env.machine("harness-cleanup", env.disk());
  options.ovmf_vars = require(enrolled_vars(env, env.disk()));
  std::vector<pid_t> pids;
  try {
    auto machine = require(Machine::create(options));
    require(machine.start());
    // Past the firmware: QEMU and swtpm are both busy when the test gives up.
    require(machine.wait_for_console(std::regex("systemd-boot|Boot in|EFI stub"), 60s));
    pids = machine.pids();
    REQUIRE(pids.size() == 2);
    for (pid_t pid : pids) CHECK(alive(pid));
    // What a failure report says about the two processes: every thread, with its state.
    auto threads = describe_processes(pids);
    CHECK_THAT(threads, Catch::Contains("qemu-system-x86_64") && Catch::Contains("swtpm"));
    CHECK(std::regex_search(threads, std::regex("thread [0-9]+ [^:]*: state [RSD]")));
    throw std::runtime_error("a failing test");
  } catch (const std::runtime_error&) {
  }
  REQUIRE(pids.size() == 2);
  for (pid_t pid : pids) {
    INFO("pid " << pid);
    CHECK_FALSE(alive(pid));
  }
}

TEST_CASE("a machine whose firmware stays silent after a reset is power-cycled", "[harness]") {
  auto env = require(TestEnvironment::from_env());
  auto options = env.machine("harness-silent-reset", env.disk());
  options.ovmf_vars = require(enrolled_vars(env, env.disk()));
  options.firmware_silence = 20s;  // the same logic as the default 90 s, sooner
  auto machine = require(Machine::create(options));
  require(machine.start());
  require(machine.wait_for_console(std::regex("BdsDxe: starting"), 120s));
  // A reset the firmware never comes back from, as QEMU under TCG now and then does: the guest
  // is frozen, then reset, and stays silent.
  require(machine.pause());
  std::size_t mark = machine.console_mark();
  require(machine.reset());
  auto started = std::chrono::steady_clock::now();
  require(machine.wait_for_console(std::regex("BdsDxe: starting"), options.firmware_silence + 120s,
                                   mark));
  double waited = seconds_since(started);
  report_time("firmware back after the power cycle", waited);
  CHECK(waited >= static_cast<double>(options.firmware_silence.count()));
  auto report = options.work_dir.parent_path() / "harness-silent-reset.silent-reset-1.txt";
  INFO(report);
  REQUIRE(std::filesystem::exists(report));
  CHECK_THAT(require(read_file(report)), Catch::Contains("qemu-system-x86_64"));
}
