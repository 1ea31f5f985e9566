#include "updater/host.hpp"

#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "unit/updater/fakes.hpp"

using namespace cairn;
using namespace cairn::updater;
namespace fs = std::filesystem;

namespace {

// The smallest PE32+ image with one .osrel section holding `osrel`.
std::string uki_with_osrel(const std::string& osrel) {
  std::string pe(0x200, '\0');
  auto put = [&](std::size_t at, std::uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) pe[at + i] = static_cast<char>(value >> (8 * i));
  };
  pe[0] = 'M', pe[1] = 'Z';
  put(0x3c, 0x40, 4);  // e_lfanew
  pe.replace(0x40, 4, std::string("PE\0\0", 4));
  put(0x44 + 2, 1, 2);     // one section
  put(0x44 + 16, 112, 2);  // optional header size
  put(0x58, 0x20b, 2);     // PE32+
  std::size_t section = 0x58 + 112;
  pe.replace(section, 6, ".osrel");
  put(section + 8, osrel.size(), 4);   // virtual size
  put(section + 16, osrel.size(), 4);  // raw size
  put(section + 20, pe.size(), 4);     // raw offset: right after the headers
  return pe + osrel;
}

}  // namespace

TEST_CASE("the running image's security version: from os-release on a host", "[host]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-host-test-").value();
  HostOptions host{.disk = "/dev/null", .os_release = dir.path() / "os-release"};
  REQUIRE(write_file_atomic(host.os_release, "ID=debian\nCAIRN_SECURITY_VERSION=5\n"));
  testing::SlotsHolding layout("1.0.0", "empty");
  testing::FakeEsp esp({});
  CHECK(running_image_security_version(host, layout, 'A', esp).value() == 5);
  REQUIRE(write_file_atomic(host.os_release, "ID=debian\n"));
  CHECK(running_image_security_version(host, layout, 'A', esp).value() == 0);
  REQUIRE(write_file_atomic(host.os_release, "CAIRN_SECURITY_VERSION=five\n"));
  CHECK_FALSE(running_image_security_version(host, layout, 'A', esp).has_value());
}

TEST_CASE("the running image's security version: from the booted entry of a disk image", "[host]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-host-test-").value();
  HostOptions host{.disk = dir.path() / "disk.img"};
  REQUIRE(write_file_atomic(host.disk, "a disk image"));
  testing::SlotsHolding layout("1.0.0", "1.1.0");
  testing::FakeEsp esp({"cairn_1.1.0+3-0.efi", "cairn_1.0.0+0-1.efi"});
  esp.contents_["cairn_1.0.0+0-1.efi"] =
      uki_with_osrel("IMAGE_VERSION=1.0.0\nCAIRN_SECURITY_VERSION=3\n");
  esp.contents_["cairn_1.1.0+3-0.efi"] = uki_with_osrel("CAIRN_SECURITY_VERSION=4\n");
  CHECK(running_image_security_version(host, layout, 'A', esp).value() == 3);
  CHECK(running_image_security_version(host, layout, 'B', esp).value() == 4);

  testing::FakeEsp no_entry({"cairn_1.1.0+3-0.efi"});
  auto missing = running_image_security_version(host, layout, 'A', no_entry);
  REQUIRE_FALSE(missing.has_value());
  CHECK_THAT(missing.error().message(),
             Catch::Contains("slot A (1.0.0) has no boot entry on the ESP"));

  testing::FakeEsp not_pe({"cairn_1.0.0.efi"});
  not_pe.contents_["cairn_1.0.0.efi"] = "not a PE";
  CHECK_FALSE(running_image_security_version(host, layout, 'A', not_pe).has_value());
}

TEST_CASE("the image floor is recorded at boot, but not while the booted version is on trial",
          "[host]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-host-test-").value();
  HostOptions host{.disk = dir.path() / "disk.img", .state = dir.path() / "state"};
  REQUIRE(write_file_atomic(host.disk, "a disk image"));
  testing::SlotsHolding layout("1.0.0", "1.0.2");
  testing::FakeEsp esp({"cairn_1.0.0+3-0.efi", "cairn_1.0.2+2-1.efi"});
  esp.contents_["cairn_1.0.0+3-0.efi"] = uki_with_osrel("CAIRN_SECURITY_VERSION=1\n");
  esp.contents_["cairn_1.0.2+2-1.efi"] = uki_with_osrel("CAIRN_SECURITY_VERSION=2\n");
  REQUIRE(save_state(
      host.state, {.pending = PendingSlot{.slot = 'B', .version = "1.0.2", .security_version = 2},
                   .phase = Phase::observing}));
  // Booted into 1.0.2 during its observation window: no floor from it.
  REQUIRE(record_image_floor(host, layout, 'B', esp));
  CHECK(load_state(host.state)->security_floor == 0);
  // Back on 1.0.0 (committed): its own security version is the floor.
  REQUIRE(record_image_floor(host, layout, 'A', esp));
  CHECK(load_state(host.state)->security_floor == 1);
}
