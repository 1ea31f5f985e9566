// bench/boot: boot to SSH of the Cairn test image against a plain boot of the same tree (signed
// kernel + initrd from a type-1 entry, ext4 root, no UKI, no verity; bench/plain-disk), each
// under the same OVMF firmware with Secure Boot and swtpm, alternating in the same run so that
// both sides see the same machine load. Prints each boot, systemd-analyze's split, the medians
// and their ratio (goal: Cairn / plain at most 1.3).
//   qemu_boot_bench PLAIN_DISK [ROUNDS]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "harness/environment.hpp"
#include "harness/machine.hpp"

using namespace cairn;
using namespace cairn::qemu;

namespace {

struct Side {
  std::string name;
  std::filesystem::path disk;
  std::vector<double> to_ssh;
  std::string last_split;
};

// One boot to SSH; returns the seconds from QEMU's start, and systemd-analyze's line.
Expected<std::pair<double, std::string>> boot_once(const TestEnvironment& env, Side& side,
                                                   const std::filesystem::path& vars, int round) {
  auto options = env.machine("bench-boot-" + side.name + "-" + std::to_string(round), side.disk);
  options.ovmf_vars = vars;
  auto machine = CAIRN_TRY(Machine::create(options));
  CAIRN_CHECK(machine.start());
  CAIRN_CHECK(machine.wait_for_ssh(300s));
  double seconds = machine.uptime();
  // The split once the boot finished (units still starting after SSH answers count too).
  (void)machine.run("systemctl is-system-running --wait", 180s);
  auto analyze = machine.run("systemd-analyze time | head -1", 30s);
  std::string split = analyze ? analyze->output : "systemd-analyze failed";
  while (!split.empty() && split.back() == '\n') split.pop_back();
  (void)machine.power_off(60s);
  return std::pair{seconds, split};
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  auto n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: qemu_boot_bench PLAIN_DISK [ROUNDS]\n");
    return 2;
  }
  int rounds = argc == 3 ? std::atoi(argv[2]) : 3;
  if (rounds < 1) {
    std::fprintf(stderr, "qemu_boot_bench: ROUNDS must be a positive number\n");
    return 2;
  }
  auto env = TestEnvironment::from_env();
  if (!env) {
    std::fprintf(stderr, "qemu_boot_bench: %s\n", env.error().describe().c_str());
    return 1;
  }
  auto vars = enrolled_vars(*env, env->disk("1.0.0"));
  if (!vars) {
    std::fprintf(stderr, "qemu_boot_bench: %s\n", vars.error().describe().c_str());
    return 1;
  }
  std::vector<Side> sides{{.name = "cairn", .disk = env->disk("1.0.0")},
                          {.name = "plain", .disk = argv[1]}};
  for (int round = 1; round <= rounds; ++round) {
    for (auto& side : sides) {
      auto boot = boot_once(*env, side, *vars, round);
      if (!boot) {
        std::fprintf(stderr, "qemu_boot_bench: %s boot %d: %s\n", side.name.c_str(), round,
                     boot.error().describe().c_str());
        return 1;
      }
      side.to_ssh.push_back(boot->first);
      side.last_split = boot->second;
      std::printf("round %d %-5s boot to SSH %6.1f s   %s\n", round, side.name.c_str(), boot->first,
                  boot->second.c_str());
      std::fflush(stdout);
    }
  }
  double cairn = median(sides[0].to_ssh);
  double plain = median(sides[1].to_ssh);
  std::printf("median boot to SSH over %d rounds: cairn %.1f s, plain %.1f s\n", rounds, cairn,
              plain);
  std::printf("cairn / plain = %.2f (goal <= 1.3)\n", cairn / plain);
  return 0;
}
