// The reboot gate: the fleet lock first, then the pre-reboot hooks, then the evacuation; what
// stops the reboot gives the lock back. Hooks are real executables in a temporary directory.
#include "updater/reboot_gate.hpp"

#include <catch2/catch.hpp>
#include <filesystem>

#include "common/fs.hpp"

using namespace cairn;
using namespace cairn::updater;
namespace fs = std::filesystem;

namespace {

class FakeLock final : public fleet::RebootLock {
 public:
  Expected<fleet::LockAnswer> acquire(const fleet::LockRequest& request) override {
    acquired.push_back(request.id + "@" + request.group + " for " + request.version);
    if (unreachable) return std::unexpected(Error(Errc::unavailable, "etcd unreachable"));
    if (!free) return fleet::LockAnswer{.message = "full: held by " + std::string(32, 'b')};
    held = true;
    return fleet::LockAnswer{.granted = true, .message = "took a place"};
  }
  Status release(const fleet::LockRequest&) override {
    ++releases;
    held = false;
    if (unreachable) return std::unexpected(Error(Errc::unavailable, "etcd unreachable"));
    return {};
  }
  bool free = true, unreachable = false, held = false;
  std::vector<std::string> acquired;
  unsigned releases = 0;
};

struct Gate {
  Gate() : dir(*TempDir::create(fs::temp_directory_path(), "cairn-gate-")) {
    config.hooks_dir = dir.path();
  }
  // A hook script under <dir>/<stage>.d that appends its environment to <dir>/ran.
  void hook(const std::string& stage, const std::string& name, int exit_code,
            const std::string& says = "") {
    fs::create_directories(dir.path() / (stage + ".d"));
    fs::path file = dir.path() / (stage + ".d") / name;
    REQUIRE(write_file_atomic(
        file, "#!/bin/sh\necho \"" + name + " $CAIRN_HOOK $CAIRN_REBOOT $CAIRN_VERSION " +
                  "$CAIRN_GROUP\" >> " + (dir.path() / "ran").string() + "\necho '" + says +
                  "' >&2\nexit " + std::to_string(exit_code) + "\n"));
    fs::permissions(file, fs::perms(0755));
  }
  std::string ran() const {
    auto text = read_file(dir.path() / "ran");
    return text ? *text : "";
  }
  Expected<GateResult> pass(RebootKind kind = RebootKind::update) {
    RebootGateSeams seams{.lock = use_lock ? &lock : nullptr, .runner = runner};
    if (evacuation) {
      seams.evacuate = [this]() -> Expected<std::string> {
        ++evacuations;
        return *evacuation;
      };
    }
    return pass_reboot_gate(config, request, kind, seams);
  }

  TempDir dir;
  FleetConfig config;
  FakeLock lock;
  bool use_lock = true;
  SystemProcessRunner runner;
  std::optional<Expected<std::string>> evacuation = Expected<std::string>("moved web-1 → kvm-2");
  unsigned evacuations = 0;
  fleet::LockRequest request{.id = std::string(32, 'a'), .group = "rack-1", .version = "1.0.1"};
};

}  // namespace

TEST_CASE("the gate opens after the lock, the hooks and the evacuation", "[gate]") {
  Gate gate;
  gate.hook("pre-reboot", "10-drain", 0);
  gate.hook("pre-reboot", "20-notify", 0);
  auto result = gate.pass();
  REQUIRE(result);
  CHECK(result->open);
  CHECK_THAT(result->message,
             Catch::Contains("took a place") && Catch::Contains("moved web-1 → kvm-2"));
  CHECK(gate.lock.acquired == std::vector<std::string>{std::string(32, 'a') + "@rack-1 for 1.0.1"});
  CHECK(gate.ran() ==
        "10-drain pre-reboot update 1.0.1 rack-1\n20-notify pre-reboot update 1.0.1 rack-1\n");
  CHECK(gate.evacuations == 1);
  CHECK(gate.lock.held);
}

TEST_CASE("a full lock keeps the host as it is, and asks nothing else", "[gate]") {
  Gate gate;
  gate.hook("pre-reboot", "10-drain", 0);
  gate.lock.free = false;
  auto result = gate.pass();
  REQUIRE(result);
  CHECK_FALSE(result->open);
  CHECK_THAT(result->message, Catch::Contains("waiting for the fleet lock: full: held by bbbb"));
  CHECK(gate.ran().empty());
  CHECK(gate.evacuations == 0);
}

TEST_CASE("a lock that cannot be asked means no reboot", "[gate]") {
  Gate gate;
  gate.lock.unreachable = true;
  auto result = gate.pass();
  REQUIRE_FALSE(result);
  CHECK(result.error().code() == Errc::unavailable);
  CHECK_THAT(result.error().message(),
             Catch::Contains("cannot be asked") && Catch::Contains("lock = \"none\""));
  CHECK(gate.evacuations == 0);
  // lock = "none": no lock to ask.
  gate.use_lock = false;
  auto without = gate.pass();
  REQUIRE(without);
  CHECK(without->open);
}

TEST_CASE("a failing pre-reboot hook stops the reboot and gives the lock back", "[gate]") {
  Gate gate;
  gate.hook("pre-reboot", "10-drain", 0);
  gate.hook("pre-reboot", "20-openstack", 3, "nova: no host can take instance i-42");
  gate.hook("pre-reboot", "30-never", 0);
  auto result = gate.pass(RebootKind::rollback);
  REQUIRE(result);
  CHECK_FALSE(result->open);
  CHECK_THAT(result->message, Catch::Contains("pre-reboot hook 20-openstack failed: exit 3: "
                                              "nova: no host can take instance i-42") &&
                                  Catch::Contains("fleet lock given back") &&
                                  Catch::Contains("next poll"));
  CHECK_THAT(gate.ran(), !Catch::Contains("30-never") && Catch::Contains("pre-reboot rollback"));
  CHECK(gate.lock.releases == 1);
  CHECK_FALSE(gate.lock.held);
  CHECK(gate.evacuations == 0);
}

TEST_CASE("a guest that cannot be moved stops the reboot and gives the lock back", "[gate]") {
  Gate gate;
  gate.evacuation = std::unexpected(
      Error(Errc::busy, "domain db-1 could not be moved: kvm-2: no room for 8 GiB"));
  auto result = gate.pass();
  REQUIRE(result);
  CHECK_FALSE(result->open);
  CHECK_THAT(result->message, Catch::Contains("domain db-1 could not be moved: kvm-2: no room") &&
                                  Catch::Contains("fleet lock given back"));
  CHECK(gate.lock.releases == 1);
  // evacuate = false: the guests are the site's business (its hooks).
  gate.config.evacuate = false;
  auto unmoved = gate.pass();
  REQUIRE(unmoved);
  CHECK(unmoved->open);
}

TEST_CASE("steady state gives the place back and runs the post-commit hooks", "[gate]") {
  Gate gate;
  gate.hook("post-commit", "10-bring-back", 0);
  RebootGateSeams seams{.lock = &gate.lock, .runner = gate.runner};
  REQUIRE(reach_steady_state(gate.config, gate.request, /*committed=*/false, seams));
  CHECK(gate.lock.releases == 1);
  CHECK(gate.ran().empty());
  REQUIRE(reach_steady_state(gate.config, gate.request, /*committed=*/true, seams));
  CHECK(gate.lock.releases == 2);
  CHECK(gate.ran() == "10-bring-back post-commit update 1.0.1 rack-1\n");
  gate.lock.unreachable = true;
  auto unreachable = reach_steady_state(gate.config, gate.request, true, seams);
  REQUIRE_FALSE(unreachable);
  CHECK_THAT(unreachable.error().describe(), Catch::Contains("giving the fleet lock back"));
}
