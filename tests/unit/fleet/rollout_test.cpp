#include "fleet/rollout.hpp"

#include <array>
#include <catch2/catch.hpp>

#include "unit/fleet/sample_index.hpp"

using namespace cairn;
using namespace cairn::fleet;
using namespace cairn::fleet::testing;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view kMachineId = "4c4c4544004a3510804cb4c04f4d3732";

Rollout three_waves() {
  return {.start = at("2026-12-03T21:00:00Z"),
          .waves = {{0.1, 0s}, {0.5, 1h}, {1.0, 24h}},
          .max_failures = 1};
}

ChoiceInput host(std::string_view running, TimePoint now = at("2026-12-05T00:00:00Z")) {
  return {.machine_class = "x86_64-kvm",
          .running_version = running,
          .machine_id = kMachineId,
          .now = now,
          .skip = {}};
}

}  // namespace

TEST_CASE("a host's bucket is the first 64 bits of SHA-256(machine-id || version)", "[rollout]") {
  // Made once with coreutils, independently of Cairn:
  //   printf '%s%s' 4c4c4544004a3510804cb4c04f4d3732 1.0.1 | sha256sum
  //   9d24fb375a394c5b8489aa3085e50d0201fbbd48c0585da3affc348ebabf84e6  -
  // 0x9d24fb375a394c5b / 2^64 = 0.6138455400598322 (python3: int('9d24fb375a394c5b', 16) / 2**64)
  double bucket = host_bucket(kMachineId, "1.0.1");
  CHECK(bucket == Approx(0.6138455400598322).epsilon(1e-15));
  CHECK(bucket == static_cast<double>(0x9d24fb375a394c5bULL >> 11) * 0x1p-53);
  // The version is hashed in: another release orders the fleet differently.
  CHECK(host_bucket(kMachineId, "1.0.2") != bucket);
}

TEST_CASE("buckets spread evenly between 0 and 1", "[rollout]") {
  std::array<int, 10> bins{};
  for (int i = 0; i < 10000; ++i) {
    double bucket = host_bucket("machine-" + std::to_string(i), "2.0.0");
    REQUIRE(bucket >= 0.0);
    REQUIRE(bucket < 1.0);
    ++bins[static_cast<std::size_t>(bucket * 10)];
  }
  // 1000 expected per tenth, standard deviation 30: a bin off by 150 is a broken hash, not luck.
  for (int count : bins) {
    INFO(count);
    CHECK(count > 850);
    CHECK(count < 1150);
  }
}

TEST_CASE("waves open at start + delay, each at its own instant", "[rollout]") {
  Rollout rollout = three_waves();
  TimePoint start = rollout.start;
  CHECK(admitted_fraction(rollout, start - 1s) == 0.0);
  CHECK(admitted_fraction(rollout, start) == 0.1);
  CHECK(admitted_fraction(rollout, start + 1h - 1s) == 0.1);
  CHECK(admitted_fraction(rollout, start + 1h) == 0.5);
  CHECK(admitted_fraction(rollout, start + 24h - 1s) == 0.5);
  CHECK(admitted_fraction(rollout, start + 24h) == 1.0);
  CHECK(admitted_fraction(rollout, start + 24h * 365) == 1.0);

  CHECK(admitted_at(rollout, 0.0) == start);
  CHECK(admitted_at(rollout, 0.05) == start);
  CHECK(admitted_at(rollout, 0.1) == start + 1h);  // admitted when the fraction exceeds it
  CHECK(admitted_at(rollout, 0.3) == start + 1h);
  CHECK(admitted_at(rollout, 0.99) == start + 24h);
  Rollout partial{.start = start, .waves = {{0.25, 0s}, {0.5, 1h}}, .max_failures = 1};
  CHECK(admitted_at(partial, 0.7) == std::nullopt);
  CHECK(admitted_fraction(partial, start + 24h * 30) == 0.5);
}

TEST_CASE("choose_update takes the newest usable version of the host's class", "[rollout]") {
  ChannelIndex index{.channel = "stable", .serial = 1, .expires = at("2027-01-01T00:00:00Z")};
  index.entries = {sample_entry("1.0"), sample_entry("2.0"), sample_entry("2.1"),
                   sample_entry("9.0", "aarch64-kvm")};
  auto find = [&](std::string_view version) {
    for (const auto& entry : index.entries) {
      if (entry.version == version && entry.machine_class == "x86_64-kvm") return &entry;
    }
    FAIL("no entry " << version);
    return static_cast<const ChannelEntry*>(nullptr);
  };

  SECTION("eligible, ignoring other machine classes") {
    auto choice = choose_update(index, host("1.0"));
    CHECK(choice.kind == UpdateChoice::Kind::eligible);
    CHECK(choice.entry == find("2.1"));
    CHECK(choice.bucket == host_bucket(kMachineId, "2.1"));
    CHECK_THAT(choice.reason, Catch::StartsWith("2.1 is eligible"));
  }
  SECTION("up to date: nothing newer, older versions ignored") {
    auto choice = choose_update(index, host("2.1"));
    CHECK(choice.kind == UpdateChoice::Kind::up_to_date);
    CHECK(choice.entry == nullptr);
    CHECK(choose_update(index, host("3.0")).kind == UpdateChoice::Kind::up_to_date);
  }
  SECTION("the newest skipped, the next one chosen") {
    index.entries[2].state = EntryState::paused;
    auto choice = choose_update(index, host("1.0"));
    CHECK(choice.kind == UpdateChoice::Kind::eligible);
    CHECK(choice.entry == find("2.0"));
    CHECK_THAT(choice.reason, Catch::Contains("skipped 2.1 is paused"));
  }
  SECTION("skip refuses a version (halted, failed here)") {
    auto input = host("1.0");
    input.skip = [](const ChannelEntry& entry) -> std::optional<std::string> {
      if (entry.version == "2.1") return "halted after 3 failures";
      return std::nullopt;
    };
    auto choice = choose_update(index, input);
    CHECK(choice.entry == find("2.0"));
    CHECK_THAT(choice.reason, Catch::Contains("2.1: halted after 3 failures"));
  }
  SECTION("all newer skipped") {
    index.entries[2].state = EntryState::pulled;
    auto input = host("1.0");
    input.skip = [](const ChannelEntry& entry) -> std::optional<std::string> {
      if (entry.version == "2.0") return "rolled back here";
      return std::nullopt;
    };
    auto choice = choose_update(index, input);
    CHECK(choice.kind == UpdateChoice::Kind::skipped);
    CHECK(choice.entry == nullptr);
    CHECK(choice.reason == "skipped 2.1 is pulled; 2.0: rolled back here");
  }
  SECTION("waiting for the wave, with the instant it opens") {
    TimePoint now = at("2026-12-05T00:00:00Z");
    index.entries[2].rollout.start = now + 1h;
    index.entries[2].rollout.waves = {{0.999999, 0s}, {1.0, 2h}};
    auto choice = choose_update(index, host("1.0", now));
    CHECK(choice.kind == UpdateChoice::Kind::waiting);
    CHECK(choice.entry == find("2.1"));  // no fall back to 2.0: the newest decides
    REQUIRE(choice.eligible_at.has_value());
    CHECK(*choice.eligible_at == now + 1h);
    CHECK_THAT(choice.reason, Catch::Contains("from 2026-12-05T01:00:00Z"));
    // Once it has opened: eligible.
    CHECK(choose_update(index, host("1.0", now + 1h)).kind == UpdateChoice::Kind::eligible);
  }
  SECTION("a partial rollout that never reaches this host") {
    double bucket = host_bucket(kMachineId, "2.1");
    index.entries[2].rollout.waves = {{bucket / 2, 0s}};
    auto choice = choose_update(index, host("1.0"));
    CHECK(choice.kind == UpdateChoice::Kind::waiting);
    CHECK(choice.eligible_at == std::nullopt);
    CHECK_THAT(choice.reason, Catch::Contains("no wave reaches this host"));
  }
}
