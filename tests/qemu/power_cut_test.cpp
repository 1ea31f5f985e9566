// Sudden power cuts (QMP quit: no sync, no shutdown) at random points while an update is
// installed, while the new version boots, is observed and blessed, and while a rollback renames
// boot entries. After every cut the host must boot a good version from a verified root, its
// update state must still read, and a canary written to /var before the first update must
// survive. CAIRN_POWER_CUTS sets how many cuts (default 3, one of each kind, about 6 minutes
// under TCG; bench/power-cut-soak runs up to 200), CAIRN_POWER_CUT_SEED the random seed
// (printed, to replay a run), CAIRN_POWER_CUT_LOG a file every cut is appended to as one JSON
// line (seed, cut point, outcome), so a soak's figure can build up over several runs.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
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

// Appends one cut to CAIRN_POWER_CUT_LOG, when set; flushed at once, since the next cut may be
// the one that ends the run.
void record_cut(const nlohmann::json& cut) {
  const char* path = std::getenv("CAIRN_POWER_CUT_LOG");
  if (!path || !*path) return;
  std::ofstream log(path, std::ios::app);
  log << cut.dump() << std::endl;
}

// What a cut interrupts. The kinds a host's state allows are taken least-covered first (ties
// drawn at random), so CI's 3 cuts usually hit an install, a new version's boot and a rollback
// (not always: a cut that came after an install completed leaves 1.0.1 to roll back from).
enum class CutKind { install, boot, rollback };

const char* describe(CutKind kind) {
  switch (kind) {
    case CutKind::install:
      return "install";
    case CutKind::boot:
      return "boot, window and blessing of 1.0.1";
    case CutKind::rollback:
      return "rollback";
  }
  return "?";
}

CutKind choose_cut(const AfterCut& host, const std::array<unsigned, 3>& done,
                   std::mt19937& random) {
  if (host.version != "1.0.0" || host.pending) return CutKind::rollback;
  auto installs = done[static_cast<int>(CutKind::install)];
  auto boots = done[static_cast<int>(CutKind::boot)];
  if (installs != boots) return installs < boots ? CutKind::install : CutKind::boot;
  return random() % 2 == 0 ? CutKind::install : CutKind::boot;
}

}  // namespace

TEST_CASE("power cuts during install, boot assessment and rollback never strand the host",
          "[powercut]") {
  const unsigned cuts = env_number("CAIRN_POWER_CUTS", 3);
  const unsigned seed = env_number("CAIRN_POWER_CUT_SEED", std::random_device{}());
  std::printf("power cuts: %u, seed %u\n", cuts, seed);
  std::mt19937 random(seed);
  auto env = require(TestEnvironment::from_env());
  // Warm reboots: a cut is due at any delay after `systemctl reboot`, also in the next boot's
  // firmware, so that QEMU must go on running through the guest's reset.
  auto machine = require(boot_first_version(env, "power-cut", /*cold_reboot=*/false));
  require(machine.run_checked("echo canary > /var/lib/cairn/canary && sync"));
  auto bundle = require(bundle_of(env, machine, "1.0.1"));
  require(machine.copy_to_guest(bundle, "/var/home/cairn-test/" + bundle.filename().string()));
  const std::string install =
      "cairn-update install --local /var/home/cairn-test/" + bundle.filename().string();

  AfterCut host = require(check_host(machine));
  std::array<unsigned, 3> done{};
  unsigned unbootable = 0;
  auto started = Clock::now();
  for (unsigned cut = 1; cut <= cuts; ++cut) {
    // 1.0.0 gets 1.0.1 installed (cut during the install, or during the reboot, window and
    // blessing that follow); 1.0.1 rolls back to the other slot (cut during the entry renames
    // or the boot after them).
    const CutKind kind = choose_cut(host, done, random);
    ++done[static_cast<int>(kind)];
    std::uniform_real_distribution<double> fraction(0.0, 1.0);
    int delay_ms = 0;
    switch (kind) {
      case CutKind::install:
        require(machine.run_checked("setsid -f sh -c '" + install + " >/dev/null 2>&1'"));
        delay_ms = static_cast<int>(fraction(random) * 12000);
        break;
      case CutKind::boot:
        require(machine.run_checked(install, 300s));
        (void)machine.run("systemctl reboot", 10s);
        delay_ms = static_cast<int>(fraction(random) * 70000);
        break;
      case CutKind::rollback:
        require(
            machine.run("setsid -f sh -c 'cairn-update rollback >/dev/null 2>&1; "
                        "systemctl reboot'"));
        delay_ms = static_cast<int>(fraction(random) * 20000);
        break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    const std::string what = describe(kind);
    nlohmann::json record{{"seed", seed},
                          {"cut", cut},
                          {"during", what},
                          {"delay_ms", delay_ms},
                          {"from", host.version}};
    require(machine.power_cut());
    require(machine.start());
    auto up = machine.wait_for_ssh(240s);
    if (!up) {
      ++unbootable;
      record["outcome"] = "unbootable";
      record["error"] = up.error().describe();
      record_cut(record);
      FAIL("cut " << cut << " (" << what << ") left the host unbootable: " << up.error().describe()
                  << "\n"
                  << machine.collect_logs());
    }
    // Let this boot's assessment finish (an update whose install completed before the cut is
    // observed and committed now), so the next cut starts from a settled host.
    auto settled = wait_for_health(machine, 150s);
    auto checked = settled ? check_host(machine) : std::unexpected(settled.error());
    if (!checked) {
      record["outcome"] = "inconsistent";
      record["error"] = checked.error().describe();
      record_cut(record);
      FAIL("cut " << cut << " (" << what << "): " << checked.error().describe() << "\n"
                  << machine.collect_logs());
    }
    host = *checked;
    const bool good_version = host.version == "1.0.0" || host.version == "1.0.1";
    record["outcome"] = good_version ? "recovered" : "wrong-version";
    record["version"] = host.version;
    record["slot"] = host.slot;
    record["pending"] = host.pending;
    record_cut(record);
    std::printf("cut %u during %s after %d ms: up on %s in slot %s%s (%.0f s so far)\n", cut,
                what.c_str(), delay_ms, host.version.c_str(), host.slot.c_str(),
                host.pending ? ", update pending" : "", seconds_since(started));
    std::fflush(stdout);
    CHECK(good_version);
  }
  std::printf("power cuts: %u (install %u, boot %u, rollback %u), unbootable after a cut: %u\n",
              cuts, done[0], done[1], done[2], unbootable);
  CHECK(unbootable == 0);
}
