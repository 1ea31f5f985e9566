#include "updater/health_checks.hpp"

#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "unit/updater/fakes.hpp"

using namespace cairn;
using namespace cairn::updater;
using namespace cairn::updater::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

void script(const fs::path& path, const std::string& body) {
  fs::create_directories(path.parent_path());
  REQUIRE(write_file_atomic(path, "#!/bin/sh\n" + body + "\n", 0755));
}

// Answers `virsh list` with a fixed set of running domains.
class FakeVirsh final : public ProcessRunner {
 public:
  Expected<ProcessResult> run(const Command& command) override {
    argv = command.argv;
    return ProcessResult{.exit_code = exit_code, .stdout_text = running, .stderr_tail = error};
  }
  std::vector<std::string> argv;
  int exit_code = 0;
  std::string running;
  std::string error;
};

}  // namespace

TEST_CASE("failed units fail the check by name", "[health]") {
  FakeServiceManager manager;
  auto check = failed_units_check(manager, {"ignored.service"});
  CHECK(check->required());
  CHECK(check->run().passed);
  manager.failed = {"ignored.service", "libvirt-guests.service", "chrony.service"};
  auto result = check->run();
  CHECK_FALSE(result.passed);
  CHECK(result.detail == "failed units: libvirt-guests.service, chrony.service");
  manager.reachable = false;  // a host that cannot be observed is not healthy
  CHECK_FALSE(check->run().passed);
}

TEST_CASE("a unit must be active, unless the image does not have it", "[health]") {
  FakeServiceManager manager;
  auto check = unit_active_check(manager, "libvirtd.service");
  CHECK(check->name() == "libvirtd.service-active");
  auto absent = check->run();
  CHECK(absent.passed);
  CHECK(absent.detail == "libvirtd.service is not installed");
  manager.states["libvirtd.service"] = "failed";
  auto result = check->run();
  CHECK_FALSE(result.passed);
  CHECK(result.detail == "libvirtd.service is failed");
  manager.states["libvirtd.service"] = "active";
  CHECK(check->run().passed);
}

TEST_CASE("every autostart domain must be running", "[health]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-autostart-");
  REQUIRE(dir);
  FakeVirsh virsh;
  auto check = autostart_domains_check(virsh, dir->path());
  CHECK(check->run().passed);  // none marked autostart: virsh is not even asked
  CHECK(virsh.argv.empty());
  REQUIRE(write_file_atomic(dir->path() / "web.xml", "<domain/>"));
  REQUIRE(write_file_atomic(dir->path() / "db.xml", "<domain/>"));
  virsh.running = "web\nother\n\n";
  auto result = check->run();
  CHECK_FALSE(result.passed);
  CHECK(result.detail == "autostart domains not running: db");
  CHECK(virsh.argv.back() == "--state-running");
  virsh.running = "db\nweb\n";
  CHECK(check->run().passed);
  virsh.exit_code = 1;
  virsh.error = "error: failed to connect to the hypervisor\n";
  CHECK_THAT(check->run().detail, Catch::Contains("failed to connect to the hypervisor"));
}

TEST_CASE("executable checks: exit 0 passes, the last line is the evidence, hangs time out",
          "[health]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-health-d-");
  REQUIRE(dir);
  HealthConfig config{.check_timeout = 1s,
                      .libvirtd = false,
                      .autostart_domains = false,
                      .checks_dir = dir->path()};
  script(dir->path() / "required.d/20-bridge", "echo 'br0 has no carrier' >&2; exit 3");
  script(dir->path() / "required.d/10-ok", "echo all good");
  script(dir->path() / "wanted.d/hang", "sleep 30");
  REQUIRE(write_file_atomic(dir->path() / "required.d/README", "not executable"));
  FakeServiceManager manager;
  SystemProcessRunner runner;
  auto checks = configured_checks(config, manager, runner);
  REQUIRE(checks.size() == 4);  // failed-units + two required + one wanted; README skipped
  CHECK(checks[1]->name() == "required.d/10-ok");
  CHECK(checks[2]->name() == "required.d/20-bridge");
  CHECK_FALSE(checks[3]->required());
  // cairn-attest.service failing is the attestation check's to judge (its reason, its policy).
  manager.failed = {"cairn-attest.service"};
  CHECK(checks[0]->run().passed);
  manager.failed = {"cairn-attest.service", "chrony.service"};
  CHECK(checks[0]->run().detail == "failed units: chrony.service");
  manager.failed.clear();
  auto ok = checks[1]->run();
  CHECK(ok.passed);
  CHECK(ok.detail == "all good");
  auto bridge = checks[2]->run();
  CHECK_FALSE(bridge.passed);
  CHECK(bridge.detail == "exit 3: br0 has no carrier");
  auto started = std::chrono::steady_clock::now();
  auto hang = checks[3]->run();
  CHECK_FALSE(hang.passed);
  CHECK(hang.detail == "timed out after 1 s");
  CHECK(std::chrono::steady_clock::now() - started < 10s);
}
