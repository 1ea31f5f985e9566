// The one status view behind `cairn-update status` and the D-Bus properties: the booted slot, a
// version only while its entry exists, the phase, and the last update's real outcome.
#include "updater/status.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "common/fs.hpp"

using namespace cairn;
using namespace cairn::updater;
namespace fs = std::filesystem;

namespace {

// Slot A holds 1.0.0 and boots; slot B is named for 1.0.1.
struct Host {
  TempDir dir = TempDir::create(fs::temp_directory_path(), "cairn-status-").value();
  HostOptions options{.disk = dir.path() / "disk.img",
                      .booted = "A",
                      .esp = dir.path() / "esp",
                      .state = dir.path() / "state"};
  Host() {
    GptDisk disk{.disk_guid = stable_uuid("disk")};
    std::vector<std::pair<std::string, std::string_view>> parts = {
        {"esp", kEspType},
        {"cairn_1.0.0", kRootType},
        {"cairn_1.0.0_verity", kRootVerityType},
        {"cairn_1.0.1", kRootType},
        {"cairn_1.0.1_verity", kRootVerityType}};
    for (const auto& [label, type] : parts) {
      disk.partitions.push_back({.label = label,
                                 .type_guid = std::string(type),
                                 .uuid = stable_uuid("part-" + label),
                                 .size_bytes = 1 << 20});
    }
    auto planned = plan_layout(disk).value();
    {
      auto fd = open_file(options.disk, O_RDWR | O_CREAT | O_TRUNC).value();
      REQUIRE(::ftruncate(fd.get(), static_cast<off_t>(planned.size_bytes)) == 0);
    }
    REQUIRE(write_gpt(options.disk, planned));
    fs::create_directories(options.esp / "EFI/Linux");
    entry("cairn_1.0.0.efi");
  }
  void entry(const std::string& name) {
    REQUIRE(write_file_atomic(options.esp / "EFI/Linux" / name, "MZ"));
  }
  HostStatus status() {
    auto status = read_status(options);
    INFO((status ? "" : status.error().describe()));
    REQUIRE(status.has_value());
    return *status;
  }
};

}  // namespace

TEST_CASE("status: a slot's version counts only while its entry exists", "[status]") {
  Host host;
  auto status = host.status();
  CHECK(status.booted == 'A');
  CHECK(status.a.version == "1.0.0");
  CHECK(status.a.entry == "cairn_1.0.0.efi");
  CHECK(status.b.version.empty());  // named 1.0.1, but nothing boots it
  CHECK(status.b.label == "cairn_1.0.1");
  CHECK_THAT(status_text(status), Catch::Contains("slot A: 1.0.0 (cairn_1.0.0.efi)  <- booted"));
  CHECK_THAT(status_text(status),
             Catch::Contains("slot B: (no version: cairn_1.0.1 has no boot entry)"));
  host.entry("cairn_1.0.1+3-0.efi");
  status = host.status();
  CHECK(status.b.version == "1.0.1");
  auto json = status_json(status);
  CHECK(json["booted"] == "A");
  CHECK(json["slots"]["B"]["version"] == "1.0.1");
  CHECK(json["phase"] == "idle");
}

TEST_CASE("status: the phase, the update and the last update's real outcome", "[status]") {
  Host host;
  host.entry("cairn_1.0.1+3-0.efi");
  {
    auto lifecycle = Lifecycle::open(host.options.state).value();
    REQUIRE(lifecycle.begin_install({.slot = 'B', .version = "1.0.1", .security_version = 2},
                                    "1.0.0", "b.cairnb"));
    REQUIRE(lifecycle.install_done({}));
    MountedEsp esp(host.options.esp);
    REQUIRE(lifecycle.mark_failed(Verdict::administrator, "", esp, 'A'));
  }
  auto status = host.status();
  CHECK(status.phase == Phase::rolled_back);
  CHECK(status.b.version.empty());  // mark-bad removed its entry
  REQUIRE(status.last_update.has_value());
  CHECK(status.last_update->version == "1.0.1");
  CHECK(status.last_update->outcome == Outcome::failed);
  CHECK_THAT(status_text(status),
             Catch::Contains("last update: 1.0.0 -> 1.0.1 in slot B: failed (marked bad by an "
                             "administrator)"));
}

TEST_CASE("status: an unknown booted slot is said, not guessed", "[status]") {
  Host host;
  host.options.booted = "";
  auto status = host.status();  // no verity root on this machine's command line
  CHECK_FALSE(status.booted.has_value());
  CHECK_THAT(status_text(status), Catch::Contains("booted: unknown"));
}
