#include "updater/rollback.hpp"

#include <catch2/catch.hpp>
#include <map>

#include "common/fs.hpp"
#include "unit/updater/fakes.hpp"
#include "updater/lifecycle.hpp"

using namespace cairn;
using namespace cairn::updater;
using cairn::updater::testing::FakeEsp;
using layout = cairn::updater::testing::SlotsHolding;

namespace {

std::string refusal(const SlotLayout& l, char booted, const HostState& state,
                    const std::vector<std::string>& entries) {
  auto plan = plan_rollback(l, booted, state, entries);
  return plan ? "planned" : plan.error().describe();
}

// A lifecycle in a fresh state directory, holding `state`.
struct Saved {
  cairn::TempDir dir =
      cairn::TempDir::create(std::filesystem::temp_directory_path(), "cairn-rollback-").value();
  explicit Saved(const HostState& state) { REQUIRE(save_state(dir.path(), state)); }
  Lifecycle open() { return Lifecycle::open(dir.path()).value(); }
  HostState state() const { return load_state(dir.path()).value(); }
};

}  // namespace

TEST_CASE("a committed update rolls back to the other slot's version", "[rollback]") {
  auto plan =
      plan_rollback(layout("1.0.0", "1.0.1"), 'B', {}, {"cairn_1.0.0.efi", "cairn_1.0.1.efi"});
  REQUIRE(plan);
  CHECK(plan->from_slot == 'B');
  CHECK(plan->to_slot == 'A');
  CHECK(plan->to_version == "1.0.0");
  // Fresh tries for the target first, then the running entry is spent: a crash in between
  // leaves 1.0.1 the default.
  REQUIRE(plan->renames.size() == 2);
  CHECK(plan->renames[0].from == "cairn_1.0.0.efi");
  CHECK(plan->renames[0].to == "cairn_1.0.0+3-0.efi");
  CHECK(plan->renames[1].from == "cairn_1.0.1.efi");
  CHECK(plan->renames[1].to == "cairn_1.0.1+0-0.efi");

  FakeEsp esp({"cairn_1.0.0.efi", "cairn_1.0.1.efi"});
  Saved saved({.security_floor = 1, .phase = Phase::committed});
  REQUIRE(saved.open().rollback(*plan, esp));
  CHECK(saved.state().phase == Phase::rolled_back);
  CHECK(esp.names_ == std::vector<std::string>{"cairn_1.0.0+3-0.efi", "cairn_1.0.1+0-0.efi"});
}

TEST_CASE("rolling back abandons a pending update of the running slot", "[rollback]") {
  HostState state{
      .security_floor = 1, .pending = PendingSlot{'B', "1.0.1", 2}, .phase = Phase::observing};
  auto plan = plan_rollback(layout("1.0.0", "1.0.1"), 'B', state,
                            {"cairn_1.0.0.efi", "cairn_1.0.1+2-1.efi"});
  REQUIRE(plan);
  FakeEsp esp({"cairn_1.0.0.efi", "cairn_1.0.1+2-1.efi"});
  Saved saved(state);
  REQUIRE(saved.open().rollback(*plan, esp));
  CHECK_FALSE(saved.state().pending.has_value());
  CHECK(saved.state().security_floor == 1);
  CHECK(esp.names_ == std::vector<std::string>{"cairn_1.0.0+3-0.efi", "cairn_1.0.1+0-0.efi"});
}

TEST_CASE("an entry already named right is left alone", "[rollback]") {
  auto plan = plan_rollback(layout("1.0.0", "1.0.1"), 'B', {}, {"cairn_1.0.0+3-0.efi"});
  REQUIRE(plan);
  CHECK(plan->renames.empty());  // no running entry (removed by hand), target has fresh tries
}

TEST_CASE("nothing to roll back to is refused with the reason", "[rollback]") {
  CHECK_THAT(refusal(layout("1.0.0", "empty"), 'A', {}, {"cairn_1.0.0.efi"}),
             Catch::Contains("slot B holds no version"));
  CHECK_THAT(refusal(layout("1.0.0", "1.0.1"), 'A', {}, {"cairn_1.0.0.efi"}),
             Catch::Contains("slot B (1.0.1) has no boot entry"));
  HostState pending{.pending = PendingSlot{'B', "1.0.1", 1}, .phase = Phase::installed};
  CHECK_THAT(
      refusal(layout("1.0.0", "1.0.1"), 'A', pending, {"cairn_1.0.0.efi", "cairn_1.0.1+3-0.efi"}),
      Catch::Contains("was just installed and never booted"));
}

TEST_CASE("a failed rename stops the rollback, and running it again finishes it", "[rollback]") {
  HostState state{.pending = PendingSlot{'B', "1.0.1", 2}, .phase = Phase::observing};
  auto plan = plan_rollback(layout("1.0.0", "1.0.1"), 'B', state,
                            {"cairn_1.0.0.efi", "cairn_1.0.1+2-1.efi"});
  REQUIRE(plan);
  FakeEsp esp({"cairn_1.0.0.efi", "cairn_1.0.1+2-1.efi"});
  esp.fail_on_ = "cairn_1.0.1+2-1.efi";
  Saved saved(state);
  auto status = saved.open().rollback(*plan, esp);
  REQUIRE_FALSE(status);
  CHECK_THAT(status.error().describe(), Catch::Contains("injected"));
  // The first rename (fresh tries for 1.0.0) happened: both are bootable, 1.0.1 still sorts
  // first. A second rollback from rolled-back completes it.
  esp.fail_on_.clear();
  auto again = plan_rollback(layout("1.0.0", "1.0.1"), 'B', saved.state(), esp.names_);
  REQUIRE(again);
  REQUIRE(saved.open().rollback(*again, esp));
  CHECK(esp.names_ == std::vector<std::string>{"cairn_1.0.0+3-0.efi", "cairn_1.0.1+0-0.efi"});
}
