#include "updater/install.hpp"

#include <catch2/catch.hpp>

#include "unit/updater/fakes.hpp"

using namespace cairn;
using namespace cairn::updater;

namespace {

constexpr std::uint64_t kMiB = 1 << 20;

InstallTarget target() {
  InstallTarget t;
  t.machine_class = "x86_64-kvm-host";
  t.booted = 'A';
  t.layout.a = {.name = 'A',
                .root = {.label = "cairn_1.0.0", .size_bytes = 64 * kMiB},
                .verity = {.label = "cairn_1.0.0_verity", .size_bytes = kMiB}};
  t.layout.b = {.name = 'B',
                .root = {.label = "cairn_empty", .size_bytes = 64 * kMiB},
                .verity = {.label = "cairn_empty_verity", .size_bytes = kMiB}};
  return t;
}

BundleManifest manifest(std::string version = "1.1.0", std::uint64_t root_size = 32 * kMiB) {
  std::string digest(64, 'a');
  return {.name = "kvm-host",
          .version = std::move(version),
          .security_version = 2,
          .machine_class = "x86_64-kvm-host",
          .created = "2023-11-14T22:13:20Z",
          .root_hash = digest,
          .payloads = {
              {"root.erofs.zst", PayloadTarget::root, root_size, digest, PayloadCompression::zstd},
              {"root.verity", PayloadTarget::verity, kMiB / 2, digest, PayloadCompression::none},
              {"uki.efi", PayloadTarget::uki, kMiB, digest, PayloadCompression::none}}};
}

std::string refusal(const BundleManifest& m, const InstallTarget& t, HostState state = {}) {
  auto status = check_compatible(m, t, state);
  return status ? "accepted" : status.error().describe();
}

}  // namespace

TEST_CASE("compatibility: class, anti-rollback floor, running version, sizes", "[install]") {
  CHECK(refusal(manifest(), target()) == "accepted");
  auto other_class = target();
  other_class.machine_class = "x86_64-minimal";
  CHECK_THAT(refusal(manifest(), other_class), Catch::Contains("machine class x86_64-kvm-host"));
  CHECK_THAT(refusal(manifest(), target(), {.security_floor = 3}),
             Catch::Contains("below this host's floor 3"));
  CHECK(refusal(manifest(), target(), {.security_floor = 2}) == "accepted");
  CHECK_THAT(refusal(manifest("1.0.0"), target()), Catch::Contains("already running (slot A)"));
  CHECK_THAT(refusal(manifest("1.1.0", 65 * kMiB), target()),
             Catch::Contains("larger than its slot partition cairn_empty"));
  auto booted_b = target();
  booted_b.booted = 'B';  // then slot A (1.0.0) is the target: reinstalling 1.0.0 there is fine
  CHECK(refusal(manifest("1.0.0"), booted_b) == "accepted");
}

TEST_CASE("an older version installs only when a downgrade is asked for", "[install]") {
  auto t = target();  // running 1.0.0
  CHECK_THAT(refusal(manifest("0.9.9"), t),
             Catch::Contains("older than the running 1.0.0: pass --allow-downgrade"));
  CHECK_THAT(refusal(manifest("1.0.0~rc1"), t), Catch::Contains("older than the running"));
  CHECK(refusal(manifest("1.0.0.1"), t) == "accepted");
  CHECK(refusal(manifest("1.0.1~rc1"), t) == "accepted");
  t.allow_downgrade = true;
  CHECK(refusal(manifest("0.9.9"), t) == "accepted");
  // Asking for a downgrade never lowers the floor.
  CHECK_THAT(refusal(manifest("0.9.9"), t, {.security_floor = 3}),
             Catch::Contains("below this host's floor 3"));
}

TEST_CASE("the floor is never below the running image's security version", "[install]") {
  auto t = target();
  t.image_security_version = 3;  // no state.json: a fresh or wiped host
  CHECK_THAT(refusal(manifest(), t),
             Catch::Contains("below this host's floor 3 (the running image's security version)"));
  t.image_security_version = 2;
  CHECK(refusal(manifest(), t) == "accepted");
  CHECK_THAT(refusal(manifest(), t, {.security_floor = 4}),
             Catch::Contains("floor 4 (the highest installed so far)"));
}

TEST_CASE("an install retires the target's entries and never one of the running version",
          "[install]") {
  auto t = target();
  t.layout.b.root.label = "cairn_0.9";
  std::vector<std::string> esp = {
      "cairn_1.0.0+3-0.efi", "cairn_1.0.0.efi", "cairn_0.9+0-0.efi", "cairn_0.9.efi",
      "cairn_1.1.0+3-0.efi", "cairn_0.9.1.efi", "linux.efi",         "cairn_1.0.0+3-0+1.efi"};
  CHECK(entries_to_retire(esp, t, "1.1.0") ==
        std::vector<std::string>{"cairn_0.9+0-0.efi", "cairn_0.9.efi", "cairn_1.1.0+3-0.efi"});
  // A bundle spelt like the running entry (refused by the manifest reader before this) matches
  // nothing: names are parsed, not compared by prefix.
  CHECK(entries_to_retire(esp, t, "1.0.0+3-0") ==
        std::vector<std::string>{"cairn_0.9+0-0.efi", "cairn_0.9.efi"});
  // Whatever the names say, the running version's entries stay: the target slot named for the
  // running version too, or a bundle of the running version.
  t.layout.b.root.label = "cairn_1.0.0";
  CHECK(entries_to_retire(esp, t, "1.0.0").empty());
  auto booted_b = target();
  booted_b.booted = 'B';  // B is empty and running (named cairn_empty): A's 1.0.0 is the target
  CHECK(entries_to_retire(esp, booted_b, "1.2") ==
        std::vector<std::string>{"cairn_1.0.0+3-0.efi", "cairn_1.0.0.efi"});
}

TEST_CASE("the UKI must fit on the ESP, counting what the install frees, before anything changes",
          "[install]") {
  testing::FakeEsp esp({"cairn_1.0.0+3-0.efi", "cairn_0.9.efi"});
  esp.free_ = 20 * kMiB;
  esp.entry_bytes_ = 30 * kMiB;
  CHECK(check_esp_room(esp, 40 * kMiB, {"cairn_0.9.efi"}).has_value());
  auto refused = check_esp_room(esp, 40 * kMiB, {});
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code() == Errc::no_space);
  CHECK_THAT(refused.error().message(),
             Catch::Contains("41943040 bytes) does not fit on the ESP: 20971520 bytes free"));
  // The reserve: exactly the free room is not enough.
  CHECK_FALSE(check_esp_room(esp, 20 * kMiB, {}).has_value());
  CHECK(check_esp_room(esp, 19 * kMiB, {}).has_value());
}
