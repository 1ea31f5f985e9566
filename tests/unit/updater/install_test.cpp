#include "updater/install.hpp"

#include <catch2/catch.hpp>

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

TEST_CASE("boot entries are matched to their version with any counter", "[install]") {
  CHECK(entry_is_version("cairn_1.0.0.efi", "1.0.0"));
  CHECK(entry_is_version("cairn_1.0.0+3-0.efi", "1.0.0"));
  CHECK(entry_is_version("cairn_1.0.0+0-3.efi", "1.0.0"));
  CHECK_FALSE(entry_is_version("cairn_1.0.0.1.efi", "1.0.0"));
  CHECK_FALSE(entry_is_version("cairn_1.0.01+3-0.efi", "1.0.0"));
  CHECK_FALSE(entry_is_version("other_1.0.0.efi", "1.0.0"));
  CHECK(new_entry_name("2.0") == "cairn_2.0+3-0.efi");
}
