// Sudden power cuts (QMP quit: no sync, no shutdown) at random points while an update is
// installed, while the new version boots, is observed and blessed, and while a rollback renames
// boot entries. After every cut the host must boot a good version from a verified root, its
// update state must still read, and a canary written to /var before the first update must
// survive. CAIRN_POWER_CUTS sets how many cuts (default 5, about 9 minutes under TCG, which
// keeps CI within its time; bench/power-cut-soak runs 200), CAIRN_POWER_CUT_SEED the random seed
// (printed, to replay a run).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <random>
#include <thread>

#include "harness/test_support.hpp"
#include "harness/update_flow.hpp"

using namespace cairn;
using namespace cairn::qemu;

namespace {

using Clock = std::chrono::steady_clock;

unsigned env_number(const char* name, unsigned fallback) {
  const char* value = std::getenv(name);
  return value && *value ? static_cast<unsigned>(std::strtoul(value, nullptr, 10)) : fallback;
}

// What the host runs after a cut: a good version (one that was built and signed), on a
// dm-verity root, with a readable update state.
struct AfterCut {
  std::string version;
  std::string slot;
  bool pending = false;
};

Expected<AfterCut> check_host(Machine& machine) {
  auto status = CAIRN_TRY(update_status(machine));
  AfterCut host{.version = status["slots"][status.value("booted", "?")]["version"],
                .slot = status.value("booted", "?"),
                .pending = status.contains("pending")};
  auto root = trim(CAIRN_TRY(machine.run_checked("findmnt -n -o SOURCE /")));
  if (root != "/dev/mapper/root") return fail(Errc::integrity, "root is " + root);
  // vfat has no journal: systemd-fsck must have repaired the ESP before it was mounted, or a
  // FAT left inconsistent by a cut fails a later boot entry's write with an I/O error.
  auto esp_check = trim(CAIRN_TRY(
      machine.run_checked("ls /efi/EFI/Linux >/dev/null && systemctl list-units --all --plain "
                          "--no-legend 'systemd-fsck@*esp*' | awk '{print $3}'")));
  if (esp_check != "active") return fail(Errc::integrity, "ESP not checked: '" + esp_check + "'");
  auto canary = CAIRN_TRY(machine.run_checked("cat /var/lib/cairn/canary"));
  if (canary != "canary\n") return fail(Errc::integrity, "canary changed: " + canary);
  return host;
}

}  // namespace

TEST_CASE("power cuts during install, boot assessment and rollback never strand the host",
          "[powercut]") {
  const unsigned cuts = env_number("CAIRN_POWER_CUTS", 5);
  const unsigned seed = env_number("CAIRN_POWER_CUT_SEED", std::random_device{}());
  std::printf("power cuts: %u, seed %u\n", cuts, seed);
  std::mt19937 random(seed);
  auto env = require(TestEnvironment::from_env());
  auto machine = require(boot_first_version(env, "power-cut"));
  require(machine.run_checked("echo canary > /var/lib/cairn/canary && sync"));
  auto bundle = require(bundle_of(env, machine, "1.0.1"));
  require(machine.copy_to_guest(bundle, "/var/home/cairn-test/" + bundle.filename().string()));
  const std::string install =
      "cairn-update install --local /var/home/cairn-test/" + bundle.filename().string();

  AfterCut host = require(check_host(machine));
  unsigned unbootable = 0;
  auto started = Clock::now();
  for (unsigned cut = 1; cut <= cuts; ++cut) {
    // What to interrupt, by what the host runs now: 1.0.0 gets 1.0.1 installed (cut during the
    // install, or during the reboot, window and blessing that follow); 1.0.1 rolls back to the
    // other slot (cut during the entry renames or the boot after them).
    std::string what;
    std::uniform_real_distribution<double> fraction(0.0, 1.0);
    if (host.version == "1.0.0" && !host.pending) {
      if (random() % 2 == 0) {
        what = "install";
        require(machine.run_checked("setsid -f sh -c '" + install + " >/dev/null 2>&1'"));
        std::this_thread::sleep_for(
            std::chrono::milliseconds(static_cast<int>(fraction(random) * 12000)));
      } else {
        what = "boot, window and blessing of 1.0.1";
        require(machine.run_checked(install, 300s));
        (void)machine.run("systemctl reboot", 10s);
        std::this_thread::sleep_for(
            std::chrono::milliseconds(static_cast<int>(fraction(random) * 70000)));
      }
    } else {
      what = "rollback";
      require(
          machine.run("setsid -f sh -c 'cairn-update rollback >/dev/null 2>&1; "
                      "systemctl reboot'"));
      std::this_thread::sleep_for(
          std::chrono::milliseconds(static_cast<int>(fraction(random) * 20000)));
    }
    require(machine.power_cut());
    require(machine.start());
    auto up = machine.wait_for_ssh(240s);
    if (!up) {
      ++unbootable;
      FAIL("cut " << cut << " (" << what << ") left the host unbootable: " << up.error().describe()
                  << "\n"
                  << machine.collect_logs());
    }
    // Let this boot's assessment finish (an update whose install completed before the cut is
    // observed and committed now), so the next cut starts from a settled host.
    auto settled = wait_for_health(machine, 150s);
    auto checked = settled ? check_host(machine) : std::unexpected(settled.error());
    if (!checked) {
      FAIL("cut " << cut << " (" << what << "): " << checked.error().describe() << "\n"
                  << machine.collect_logs());
    }
    host = *checked;
    std::printf("cut %u during %s: up on %s in slot %s%s (%.0f s so far)\n", cut, what.c_str(),
                host.version.c_str(), host.slot.c_str(), host.pending ? ", update pending" : "",
                seconds_since(started));
    std::fflush(stdout);
    CHECK((host.version == "1.0.0" || host.version == "1.0.1"));
  }
  std::printf("power cuts: %u, unbootable after a cut: %u\n", cuts, unbootable);
  CHECK(unbootable == 0);
}
