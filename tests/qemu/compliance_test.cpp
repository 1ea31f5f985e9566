// The compliance audit of a running host: `cairn-build audit BUILD --live-root SNAPSHOT` checks
// the image a QEMU guest booted together with that guest's live kernel state, copied out of it
// with the README's snapshot recipe. What the report states must follow what the host runs:
// a sysctl or a mount option changed at run time fails the control points it serves.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/fs.hpp"
#include "common/process.hpp"
#include "harness/test_support.hpp"
#include "harness/update_flow.hpp"

using namespace cairn;
using namespace cairn::qemu;

namespace {

namespace fs = std::filesystem;

// The README's snapshot recipe, as a tar archive in base64 on stdout (the harness captures
// text). One cp for all of /proc/sys: a process per file takes minutes under TCG.
constexpr const char* kSnapshotScript = R"sh(s=$(mktemp -d)
cp --parents -t "$s" /proc/cmdline /proc/self/mountinfo /sys/kernel/security/lockdown \
   /sys/firmware/efi/efivars/SecureBoot-* /sys/module/kvm_*/parameters/nested 2>/dev/null
find /proc/sys -type f -readable -exec cp --parents -t "$s" {} + 2>/dev/null
for g in /sys/kernel/iommu_groups/*; do [ -e "$g" ] && mkdir -p "$s$g"; done
tar -C "$s" -cf - . | base64 -w0
rm -rf "$s")sh";

// Copies the guest's live state into `dir` (emptied first).
Status snapshot_live_state(Machine& machine, const fs::path& dir) {
  auto archive = CAIRN_TRY(machine.run_checked(kSnapshotScript, 120s));
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return fail(Errc::io, "creating " + dir.string() + ": " + ec.message());
  fs::path encoded = dir.string() + ".tar.b64";
  CAIRN_CHECK(write_file_atomic(encoded, archive));
  SystemProcessRunner runner;
  return run_step(runner,
                  {.argv = {"sh", "-c", "base64 -d \"$1\" | tar -x -C \"$2\"", "sh",
                            encoded.string(), dir.string()}},
                  "unpacking the guest's live state");
}

struct AuditRun {
  int exit_code = 0;
  nlohmann::json report;
};

AuditRun audit_with_live_state(const TestEnvironment& env, const fs::path& snapshot) {
  SystemProcessRunner runner;
  auto result =
      require(runner.run({.argv = {env.cairn_build().string(), "audit", env.image_dir().string(),
                                   "--live-root", snapshot.string(), "--json", "--report", ""},
                          .capture_stdout = true}));
  INFO("cairn-build audit exited " << result.exit_code << ": " << result.stderr_tail);
  auto report = nlohmann::json::parse(result.stdout_text, nullptr, false);
  REQUIRE_FALSE(report.is_discarded());
  return {result.exit_code, std::move(report)};
}

const nlohmann::json& check_named(const nlohmann::json& report, const std::string& id) {
  for (const auto& check : report["checks"]) {
    if (check.value("id", "") == id) return check;
  }
  FAIL("the report has no check " << id);
  throw std::logic_error("unreachable");
}

bool contains(const nlohmann::json& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

TEST_CASE("the compliance audit of a running host reads its live values", "[audit]") {
  auto env = require(TestEnvironment::from_env());
  auto machine = require(boot_first_version(env, "audit-live"));
  fs::path snapshot = machine.options().work_dir / "live";

  require(snapshot_live_state(machine, snapshot));
  auto clean = audit_with_live_state(env, snapshot);
  INFO(clean.report.dump(1));
  CHECK(clean.exit_code == 0);
  CHECK(clean.report["target"]["kind"] == "host-snapshot");
  CHECK(clean.report["result"] == "pass");
  // Values only a running host has: Secure Boot from the EFI variable, the sysctl as the
  // kernel holds it, /dev/shm as mounted.
  CHECK(check_named(clean.report, "secure-boot")["status"] == "pass");
  const auto& kptr = check_named(clean.report, "sysctl:kernel.kptr_restrict");
  CHECK(kptr["status"] == "pass");
  CHECK(kptr["evidence"] == "running kernel: 2");
  const auto& shm = check_named(clean.report, "mount:/dev/shm");
  CHECK(shm["status"] == "pass");
  CHECK_THAT(shm["evidence"].get<std::string>(), Catch::StartsWith("mounted: "));

  // An administrator weakens the running host; the image on disk is unchanged.
  require(
      machine.run_checked("sysctl -q -w kernel.kptr_restrict=0 && "
                          "mount -o remount,exec /dev/shm"));
  require(snapshot_live_state(machine, snapshot));
  auto weakened = audit_with_live_state(env, snapshot);
  INFO(weakened.report.dump(1));
  CHECK(weakened.exit_code == 5);
  CHECK(weakened.report["result"] == "fail");
  CHECK(check_named(weakened.report, "sysctl:kernel.kptr_restrict")["evidence"] ==
        "running kernel has kernel.kptr_restrict = 0");
  CHECK(check_named(weakened.report, "mount:/dev/shm")["status"] == "fail");
  CHECK(check_named(weakened.report, "secure-boot")["status"] == "pass");
  CHECK(contains(weakened.report["failed_controls"], "BP-028:R9"));
  CHECK(contains(weakened.report["failed_controls"], "BP-028:R28"));
}
