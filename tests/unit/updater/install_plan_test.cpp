// The install plan's steps against fakes: a failure injected at each step (and a cancel) must
// leave the target with no boot entry and an empty identity, the running slot untouched, and
// the lifecycle back at rest with the failure in the history.
#include <fcntl.h>

#include <catch2/catch.hpp>
#include <stop_token>

#include "common/fs.hpp"
#include "unit/updater/fakes.hpp"
#include "unit/updater/test_bundle.hpp"
#include "updater/install.hpp"

using namespace cairn;
using namespace cairn::updater;
namespace fs = std::filesystem;

namespace {

// Slot A runs 1.0.0, slot B holds 0.9; the bundle is 2.0 (bundle_fixture's manifest).
struct Host {
  TempDir dir = TempDir::create(fs::temp_directory_path(), "cairn-install-plan-").value();
  testing::FakeEsp esp{{"cairn_1.0.0.efi", "cairn_0.9.efi"}};
  testing::FakeSlotDevice device;
  InstallTarget target{.layout = testing::SlotsHolding("1.0.0", "0.9"),
                       .booted = 'A',
                       .machine_class = "x86_64-t",
                       .boot_id = "boot-1"};
  std::function<Status(const fs::path&)> check_uki;
  std::stop_source stop;
  std::function<void(std::string_view)> on_point;

  Host() {
    target.layout.a.root.size_bytes = target.layout.a.verity.size_bytes = 1 << 20;
    target.layout.b.root.size_bytes = target.layout.b.verity.size_bytes = 1 << 20;
  }

  Expected<InstallResult> install() {
    // The fake device does not check the root hash.
    testing::write_test_bundle({.root = std::string(64 << 10, 'r'),
                                .verity = std::string(4096, 'v'),
                                .uki = "MZ uki 2.0",
                                .root_hash = std::string(64, 'a')},
                               dir.path() / "bundle.tar");
    auto fd = open_file(dir.path() / "bundle.tar", O_RDONLY).value();
    auto reader = BundleReader::open_fd(fd.get(), "bundle.tar");
    REQUIRE(reader.has_value());
    testing::AcceptingVerifier verifier;
    NullProgress progress;
    auto lifecycle = Lifecycle::open(dir.path() / "state", [this](std::string_view point) {
      if (on_point) on_point(point);
    });
    REQUIRE(lifecycle.has_value());
    auto plan = plan_install(*reader, verifier, target, lifecycle->state(), esp);
    REQUIRE(plan.has_value());
    return run_install_plan(*plan, *reader, target,
                            {.device = device,
                             .esp = esp,
                             .lifecycle = *lifecycle,
                             .progress = progress,
                             .check_uki = check_uki,
                             .work_dir = dir.path(),
                             .stop = stop.get_token()},
                            "bundle.tar");
  }
  HostState state() const { return load_state(dir.path() / "state").value(); }
  UpdateRecord last_record() const {
    return History::load(dir.path() / "state").value().records().back();
  }
};

void check_nothing_bootable_added(const Host& host) {
  CHECK(host.esp.names_ == std::vector<std::string>{"cairn_1.0.0.efi"});
  CHECK_FALSE(host.device.identities.contains('A'));
  REQUIRE(host.device.identities.contains('B'));
  CHECK(host.device.identities.at('B').root_name == "cairn_empty");
  CHECK(host.device.identities.at('B').verity_name == "cairn_empty_verity");
  CHECK_FALSE(host.device.partitions.contains("cairn_1.0.0"));
  auto state = host.state();
  CHECK(state.phase == Phase::idle);
  CHECK_FALSE(state.pending.has_value());
}

}  // namespace

TEST_CASE("the plan runs every step in order and ends installed", "[install-plan]") {
  Host host;
  std::vector<std::string> points;
  host.on_point = [&](std::string_view point) { points.emplace_back(point); };
  auto result = host.install();
  INFO((result ? "" : result.error().describe()));
  REQUIRE(result.has_value());
  CHECK(points == std::vector<std::string>{"installing", "retire", "write", "check", "identify",
                                           "installed", "activate"});
  CHECK(host.esp.names_ == std::vector<std::string>{"cairn_1.0.0.efi", "cairn_2.0+3-0.efi"});
  CHECK(host.device.identities.at('B').root_name == "cairn_2.0");
  CHECK(host.device.partitions.at("cairn_0.9").size() == 64 << 10);
  CHECK(host.state().phase == Phase::installed);
  CHECK(host.last_record().outcome == Outcome::installed);
  CHECK(host.last_record().steps.size() == 6);  // verify … activate
}

TEST_CASE("a failure at any step leaves the target unbootable and the running slot untouched",
          "[install-plan]") {
  struct Fault {
    std::string name, operation;
    int call;
  };
  auto fault = GENERATE(
      Fault{"retire: naming the slot empty", "identity", 1},
      Fault{"write: the first chunk", "write", 1}, Fault{"write: the verity partition", "write", 2},
      Fault{"write: the flush", "sync", 1}, Fault{"check: the slot read back", "verify", 1},
      Fault{"identify: the GPT write", "identity", 2});
  INFO(fault.name);
  Host host;
  host.device.fail_operation = fault.operation;
  host.device.fail_at_call = fault.call;
  auto result = host.install();
  REQUIRE_FALSE(result.has_value());
  CHECK_THAT(result.error().describe(), Catch::Contains("injected"));
  check_nothing_bootable_added(host);
  CHECK(host.last_record().outcome == Outcome::install_failed);
}

TEST_CASE("a UKI refused by the check or an entry that cannot be written changes nothing",
          "[install-plan]") {
  Host host;
  SECTION("the UKI check") {
    host.check_uki = [](const fs::path&) -> Status {
      return fail(Errc::invalid_input, "uki.efi: injected");
    };
  }
  SECTION("the entry") {
    host.esp.on_install_ = [](const std::string& name) -> Status {
      return fail(Errc::io, name + ": injected");
    };
  }
  auto result = host.install();
  REQUIRE_FALSE(result.has_value());
  CHECK_THAT(result.error().describe(), Catch::Contains("injected"));
  check_nothing_bootable_added(host);
}

TEST_CASE("a cancel stops the install and leaves the target unbootable", "[install-plan]") {
  auto at = GENERATE(as<std::string>{}, "installing", "retire", "write", "check", "identify");
  INFO(at);
  Host host;
  host.on_point = [&](std::string_view point) {
    if (point == at) host.stop.request_stop();
  };
  auto result = host.install();
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code() == Errc::cancelled);
  check_nothing_bootable_added(host);
  CHECK(host.last_record().outcome == Outcome::cancelled);
}
