// An install plan end to end: a real bundle stream into a real GPT disk-image file (through
// DiskSlotDevice), every step (verify, retire, write, check, identify, activate) and the real
// lifecycle, with only the ESP faked.
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <functional>

#include "common/bundle_writer.hpp"
#include "common/fs.hpp"
#include "common/uki_signature.hpp"
#include "common/verity.hpp"
#include "common/version.hpp"
#include "unit/common/signed_pe.hpp"
#include "unit/updater/fakes.hpp"
#include "unit/updater/test_bundle.hpp"
#include "updater/install.hpp"

using namespace cairn;
using namespace cairn::updater;
namespace fs = std::filesystem;

namespace {

// Version 2.0 of image "t" for machine class "x86_64-t", security version 2: a 64 KiB root image
// (zstd-compressed in the bundle), its real verity tree (so the read-back check can pass) and a
// UKI, written as cairn-build writes a bundle.
struct Bundle {
  std::string root = std::string(64 << 10, '\0'), verity, uki = "MZ fake uki 2.0";
  VerityTree tree;
  // What happens to the archive's bytes between the builder and the host (a test corrupts them).
  std::function<void(std::string&)> in_transit;

  Bundle() {
    for (std::size_t i = 0; i < root.size(); ++i) root[i] = static_cast<char>(i * 7 % 251);
    VerityTreeBuilder builder({.salt = std::vector<std::uint8_t>(32, 0x5a)});
    builder.update({reinterpret_cast<const std::uint8_t*>(root.data()), root.size()});
    tree = builder.finish().value();
    verity = tree.hash_area;
  }
  std::string stream() const {
    auto dir = TempDir::create(fs::temp_directory_path(), "cairn-bundle-").value();
    updater::testing::write_test_bundle(
        {.root = root, .verity = verity, .uki = uki, .root_hash = tree.root_hash_hex()},
        dir.path() / "t.cairnb");
    std::string bytes = read_file(dir.path() / "t.cairnb").value();
    if (in_transit) in_transit(bytes);
    return bytes;
  }
};

// A sparse disk-image file: an ESP, slot A running 1.0.0, slot B holding 0.9; 1 MiB each.
fs::path make_disk(const fs::path& path) {
  GptDisk disk{.disk_guid = stable_uuid("disk")};
  std::vector<std::pair<std::string, std::string_view>> parts = {
      {"esp", kEspType},
      {"cairn_1.0.0", kRootType},
      {"cairn_1.0.0_verity", kRootVerityType},
      {"cairn_0.9", kRootType},
      {"cairn_0.9_verity", kRootVerityType}};
  for (const auto& [label, type] : parts) {
    disk.partitions.push_back({.label = label,
                               .type_guid = std::string(type),
                               .uuid = stable_uuid("part-" + label),
                               .size_bytes = 1 << 20});
  }
  auto planned = plan_layout(disk);
  REQUIRE(planned.has_value());
  {
    auto fd = open_file(path, O_RDWR | O_CREAT | O_TRUNC);
    REQUIRE(fd.has_value());
    REQUIRE(::ftruncate(fd->get(), static_cast<off_t>(planned->size_bytes)) == 0);
  }
  REQUIRE(write_gpt(path, *planned).has_value());
  return path;
}

const std::vector<std::string> kEntriesBefore = {"cairn_1.0.0+3-0.efi", "cairn_0.9+0-0.efi",
                                                 "cairn_0.9.efi"};

struct Host {
  TempDir dir = TempDir::create(fs::temp_directory_path(), "cairn-install-bundle-").value();
  fs::path disk = make_disk(dir.path() / "disk.img");
  updater::testing::FakeEsp esp{kEntriesBefore};
  std::function<Status(const fs::path&)> check_uki;
  InstallTarget target{.layout = read_slot_layout(disk).value(),
                       .booted = 'A',
                       .machine_class = "x86_64-t",
                       .boot_id = "boot-1"};
  fs::path state_dir = dir.path() / "state";

  Expected<InstallResult> install(const Bundle& bundle) {
    fs::path file = dir.path() / "bundle.tar";
    REQUIRE(write_file_atomic(file, bundle.stream()).has_value());
    auto fd = open_file(file, O_RDONLY).value();
    auto reader = BundleReader::open_fd(fd.get(), "bundle.tar");
    REQUIRE(reader.has_value());
    updater::testing::AcceptingVerifier verifier;
    NullProgress progress;
    auto lifecycle = Lifecycle::open(state_dir);
    REQUIRE(lifecycle.has_value());
    auto plan = plan_install(*reader, verifier, target, lifecycle->state(), esp);
    if (!plan) return std::unexpected(plan.error());
    auto device = DiskSlotDevice::open(disk);
    REQUIRE(device.has_value());
    return run_install_plan(*plan, *reader, target,
                            {.device = *device,
                             .esp = esp,
                             .lifecycle = *lifecycle,
                             .progress = progress,
                             .check_uki = check_uki,
                             .work_dir = dir.path()},
                            "bundle.tar");
  }
  SlotLayout layout() const {
    auto layout = read_slot_layout(disk);
    REQUIRE(layout.has_value());
    return *layout;
  }
  std::string bytes_at(std::uint64_t offset, std::size_t size) const {
    return read_file(disk).value().substr(offset, size);
  }
  HostState state() const {
    auto state = load_state(state_dir);
    REQUIRE(state.has_value());
    return *state;
  }
  bool has_entry_of(std::string_view version) const {
    return std::ranges::any_of(esp.names_,
                               [&](const auto& name) { return entry_is_version(name, version); });
  }
};

std::string names(const Slot& slot) { return slot.root.label + " " + slot.verity.label; }

// What every failed install must leave: the running slot and its entry as they were, the target
// with no version and no entry, nothing pending.
void check_target_emptied(const Host& host) {
  auto layout = host.layout();
  CHECK(names(layout.a) == "cairn_1.0.0 cairn_1.0.0_verity");
  CHECK(layout.a.root.uuid == host.target.layout.a.root.uuid);
  CHECK(names(layout.b) == "cairn_empty cairn_empty_verity");
  CHECK(host.esp.names_ == std::vector<std::string>{"cairn_1.0.0+3-0.efi"});
  CHECK_FALSE(host.has_entry_of("2.0"));
}

}  // namespace

TEST_CASE("a bundle installs into the other slot and waits there as pending", "[install-bundle]") {
  Host host;
  Bundle bundle;
  auto result = host.install(bundle);
  INFO((result ? "" : result.error().describe()));
  REQUIRE(result.has_value());
  CHECK(result->slot == 'B');
  CHECK(result->entry == "cairn_2.0+3-0.efi");

  auto layout = host.layout();
  CHECK(host.bytes_at(layout.b.root.start_bytes, bundle.root.size()) == bundle.root);
  CHECK(host.bytes_at(layout.b.verity.start_bytes, bundle.verity.size()) == bundle.verity);
  CHECK(names(layout.b) == "cairn_2.0 cairn_2.0_verity");
  CHECK(layout.b.root.uuid == verity_data_partition_uuid(bundle.tree.root_hash));
  CHECK(layout.b.verity.uuid == verity_hash_partition_uuid(bundle.tree.root_hash));
  CHECK(names(layout.a) == "cairn_1.0.0 cairn_1.0.0_verity");
  CHECK(layout.a.root.uuid == host.target.layout.a.root.uuid);

  // 0.9's entries went with its slot; the running one stays.
  CHECK(host.esp.names_ == std::vector<std::string>{"cairn_1.0.0+3-0.efi", "cairn_2.0+3-0.efi"});
  CHECK(host.esp.contents_["cairn_2.0+3-0.efi"] == bundle.uki);
  CHECK(host.esp.reclaims_ == 1);

  auto state = host.state();
  REQUIRE(state.pending.has_value());
  CHECK(state.pending->slot == 'B');
  CHECK(state.pending->version == "2.0");
  CHECK(state.pending->security_version == 2);
  CHECK(state.pending->install_boot_id == "boot-1");
}

TEST_CASE("an entry that cannot be installed leaves the target empty and nothing pending",
          "[install-bundle]") {
  Host host;
  host.esp.on_install_ = [](const std::string& name) -> Status {
    return fail(Errc::io, "writing " + name + ": injected");
  };
  auto result = host.install(Bundle());
  REQUIRE_FALSE(result.has_value());
  CHECK_THAT(result.error().describe(), Catch::Contains("injected"));
  check_target_emptied(host);
  CHECK_FALSE(host.state().pending.has_value());
}

TEST_CASE("state.json that cannot be saved as installed leaves the target empty",
          "[install-bundle]") {
  Host host;
  // A directory where state.json belongs once the slot checked out: saving `installed` fails.
  host.check_uki = [&](const fs::path&) -> Status {
    fs::remove(host.state_dir / "state.json");
    fs::create_directories(host.state_dir / "state.json");
    return {};
  };
  auto result = host.install(Bundle());
  REQUIRE_FALSE(result.has_value());
  CHECK_THAT(result.error().describe(), Catch::Contains("state.json"));
  check_target_emptied(host);
}

TEST_CASE("a UKI the Secure Boot db would refuse is not installed", "[install-bundle]") {
  Host host;
  // The real check against a db certificate: the bundle's UKI is a 15-byte file.
  auto db = cairn::testing::make_db_key("test db");
  host.check_uki = [&](const fs::path& uki) { return check_uki_signature(uki, db.cert); };
  auto result = host.install(Bundle());
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code() == Errc::invalid_input);
  CHECK_THAT(result.error().describe(), Catch::Contains("uki.efi"));
  check_target_emptied(host);
  CHECK(host.state().phase == Phase::idle);
  auto history = History::load(host.state_dir).value();
  REQUIRE(history.records().size() == 1);
  CHECK(history.records()[0].outcome == Outcome::install_failed);
  CHECK(history.records()[0].version == "2.0");
}

TEST_CASE("a UKI signed for the db installs through the real check", "[install-bundle]") {
  Host host;
  auto db = cairn::testing::make_db_key("test db");
  Bundle bundle;
  bundle.uki =
      cairn::testing::sign_pe(db, cairn::testing::kUkiStub, host.dir.path() / "signed.efi");
  host.check_uki = [&](const fs::path& uki) { return check_uki_signature(uki, db.cert); };
  auto result = host.install(bundle);
  INFO((result ? "" : result.error().describe()));
  REQUIRE(result.has_value());
  CHECK(host.esp.contents_["cairn_2.0+3-0.efi"] == bundle.uki);
}

TEST_CASE("a UKI that does not fit on the ESP changes nothing, the rollback slot included",
          "[install-bundle]") {
  Host host;
  host.esp.free_ = 512 << 10;
  host.esp.entry_bytes_ = 64 << 10;
  std::string disk_before = read_file(host.disk).value();
  auto result = host.install(Bundle());
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code() == Errc::no_space);
  CHECK(names(host.layout().b) == "cairn_0.9 cairn_0.9_verity");
  CHECK(read_file(host.disk).value() == disk_before);
  CHECK(host.esp.names_ == kEntriesBefore);
  CHECK_FALSE(host.state().pending.has_value());
}

TEST_CASE("a payload failing its hash after it was written leaves the target empty",
          "[install-bundle]") {
  Host host;
  Bundle bundle;
  // A bit of the verity tree flipped on the way: the root is written by then, and the verity
  // tree too when its sha256 fails.
  bundle.in_transit = [&](std::string& bytes) {
    auto at = bytes.find(bundle.verity);
    REQUIRE(at != std::string::npos);
    bytes[at + 1000] = static_cast<char>(bytes[at + 1000] ^ 1);
  };
  auto result = host.install(bundle);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code() == Errc::integrity);
  CHECK_THAT(result.error().describe(),
             Catch::Contains("root.verity: sha256 differs from the signed manifest"));
  check_target_emptied(host);
  CHECK_FALSE(host.state().pending.has_value());
}

TEST_CASE("a bundle below the running image's security version is refused before any change",
          "[install-bundle]") {
  Host host;
  host.target.image_security_version = 3;  // and no state.json: a wiped host
  std::string disk_before = read_file(host.disk).value();
  auto result = host.install(Bundle());
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code() == Errc::invalid_input);
  CHECK_THAT(result.error().describe(), Catch::Contains("below this host's floor 3"));
  CHECK(names(host.layout().b) == "cairn_0.9 cairn_0.9_verity");
  CHECK(read_file(host.disk).value() == disk_before);
  CHECK(host.esp.names_ == kEntriesBefore);
  CHECK(host.esp.reclaims_ == 0);
  CHECK_FALSE(fs::exists(host.state_dir / "state.json"));
}
