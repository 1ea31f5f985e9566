// cairn-update end to end: a host running 1.0.0 from slot A installs the signed 1.0.1 bundle
// through its own cairn-update (daemon + CLI) over SSH, reboots, comes up on slot B running
// 1.0.1 — Secure Boot, dm-verity over the new slot, boot counting and all — and commits it once
// the health observation window has passed, keeping 1.0.0 as the rollback target.
#include <catch2/catch.hpp>

#include "harness/test_support.hpp"
#include "harness/update_flow.hpp"

using namespace cairn;
using namespace cairn::qemu;

TEST_CASE("an update installed with cairn-update boots from slot B and is committed", "[update]") {
  auto env = require(TestEnvironment::from_env());
  auto machine = require(boot_first_version(env, "update-a-to-b"));
  CHECK(trim(require(machine.run_checked("systemctl is-active cairn-update.service"))) == "active");
  // Nothing was pending on this first boot: one round of checks, and it passed.
  require(wait_for_health(machine, 120s));
  CHECK(trim(require(machine.run_checked("systemctl is-active cairn-health.service"))) == "active");

  auto installed = require(install_in_guest(env, machine, "1.0.1"));
  CHECK(installed["slot"] == "B");
  CHECK(installed["version"] == "1.0.1");
  // The daemon did the work (the CLI handed it over): its LastResult names the bundle.
  CHECK_THAT(require(machine.run_checked("busctl get-property org.cairn.Update1 "
                                         "/org/cairn/Update1 org.cairn.Update1 LastResult")),
             Catch::Contains("qemu-test_1.0.1.cairnb"));
  CHECK(trim(require(machine.run_checked("busctl get-property org.cairn.Update1 "
                                         "/org/cairn/Update1 org.cairn.Update1 Pending"))) ==
        "s \"B 1.0.1\"");
  CHECK(require(boot_entries(machine)) == "cairn_1.0.0.efi cairn_1.0.1+3-0.efi");

  require(reboot_guest(machine));
  auto rebooted = std::chrono::steady_clock::now();
  require(machine.wait_for_ssh(180s));
  report_time("reboot into 1.0.1 to SSH",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - rebooted).count());
  CHECK_THAT(require(machine.run_checked("cat /etc/os-release")),
             Catch::Contains("IMAGE_VERSION=1.0.1"));
  auto slaves = trim(require(machine.run_checked(
      "d=$(basename $(readlink -f /dev/mapper/root)); "
      "for s in /sys/block/$d/slaves/*; do cat /sys/class/block/$(basename $s)/partition; done")));
  CHECK(slaves == "4\n5");  // slot B: root-B and verity-B

  // The observation window (20 s in the test image) passes, then boot-complete.target lets
  // systemd-bless-boot drop the counter.
  require(wait_for_health(machine, 120s));
  report_time("reboot into 1.0.1 to committed",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - rebooted).count());
  require(machine.run_checked(
      "for i in $(seq 60); do systemctl is-active -q systemd-bless-boot.service && exit 0; "
      "sleep 1; done; exit 1",
      90s));
  CHECK(require(boot_entries(machine)) == "cairn_1.0.0.efi cairn_1.0.1.efi");
  auto status = require(update_status(machine));
  INFO(status.dump(2));
  CHECK(status["booted"] == "B");
  CHECK_FALSE(status.contains("pending"));
  CHECK(status["security_floor"] == 1);
  CHECK(status["last_update"]["version"] == "1.0.1");
  CHECK(status["last_update"]["outcome"] == "committed");
  CHECK(status["slots"]["A"]["version"] == "1.0.0");  // kept as the rollback target
  auto history = require(machine.run_checked("cairn-update history"));
  INFO(history);
  CHECK_THAT(history, Catch::Contains("1.0.0 -> 1.0.1 (slot B): committed"));
  CHECK_THAT(history, Catch::Contains("observation window passed"));
  CHECK_THAT(require(machine.run_checked("busctl get-property org.cairn.Update1 "
                                         "/org/cairn/Update1 org.cairn.Update1 History")),
             Catch::Contains("committed"));
}
