// The harness itself: whatever a test does, the processes a machine started do not outlive it.
#include <catch2/catch.hpp>
#include <csignal>
#include <stdexcept>

#include "harness/environment.hpp"
#include "harness/machine.hpp"
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
    throw std::runtime_error("a failing test");
  } catch (const std::runtime_error&) {
  }
  REQUIRE(pids.size() == 2);
  for (pid_t pid : pids) {
    INFO("pid " << pid);
    CHECK_FALSE(alive(pid));
  }
}
