#include "builder/stages/disk_image.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "common/fs.hpp"

using namespace cairn;
using namespace cairn::builder;
namespace fs = std::filesystem;

namespace {
constexpr std::uint64_t MiB = 1 << 20;

GptDisk small_disk() {
  return plan_layout({.disk_guid = "0a0b0c0d-0000-4000-8000-000000000001",
                      .partitions = {{.label = "esp",
                                      .type_guid = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
                                      .uuid = stable_uuid("esp"),
                                      .size_bytes = 40 * MiB},
                                     {.label = "cairn_1",
                                      .type_guid = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709",
                                      .uuid = stable_uuid("root"),
                                      .size_bytes = 2 * MiB},
                                     {.label = "cairn_1_verity",
                                      .type_guid = "2c7357ed-ebd2-46d9-aec1-23d437ec2bf5",
                                      .uuid = stable_uuid("verity"),
                                      .size_bytes = MiB,
                                      .attributes = kGptReadOnlyAttribute}}})
      .value();
}
}  // namespace

TEST_CASE("the disk image is reproducible, holds the ESP files and slot A at their offsets") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-disk-").value();
  REQUIRE(write_file_atomic(dir.path() / "root", std::string(MiB + 5, 'R')).has_value());
  REQUIRE(write_file_atomic(dir.path() / "verity", std::string(4096, 'V')).has_value());
  REQUIRE(write_file_atomic(dir.path() / "boot.efi", "MZ boot").has_value());
  REQUIRE(write_file_atomic(dir.path() / "uki.efi", "MZ uki").has_value());
  SystemProcessRunner runner;
  NullProgress progress;
  DiskImageInput input{.disk = small_disk(),
                       .root_image = dir.path() / "root",
                       .verity_image = dir.path() / "verity",
                       .esp = {.files = {{"EFI/BOOT/BOOTX64.EFI", dir.path() / "boot.efi"},
                                         {"EFI/Linux/cairn_1+3-0.efi", dir.path() / "uki.efi"}}},
                       .source_date_epoch = 1700000000,
                       .output = dir.path() / "a.img"};
  REQUIRE(build_disk_image(input, runner, progress).has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));  // FAT times have 2 s steps
  input.output = dir.path() / "b.img";
  REQUIRE(build_disk_image(input, runner, progress).has_value());
  auto a = read_file(dir.path() / "a.img").value();
  CHECK(a == read_file(dir.path() / "b.img").value());
  CHECK_FALSE(fs::exists(dir.path() / ".a.img.partial"));

  const auto& root = input.disk.partitions[1];
  CHECK(a.substr(root.start_bytes, MiB + 5) == std::string(MiB + 5, 'R'));
  CHECK(a[root.start_bytes + MiB + 5] == '\0');
  auto listing =
      run_checked(runner, {.argv = {"mdir", "-b", "-/", "-i",
                                    (dir.path() / "a.img").string() + "@@" +
                                        std::to_string(input.disk.partitions[0].start_bytes),
                                    "::"},
                           .env = {{"MTOOLS_SKIP_CHECK", "1"}},
                           .capture_stdout = true});
  REQUIRE(listing.has_value());
  CHECK_THAT(*listing, Catch::Contains("::/EFI/Linux/cairn_1+3-0.efi"));
  CHECK_THAT(*listing, Catch::Contains("::/EFI/BOOT/BOOTX64.EFI"));
}

TEST_CASE("an image larger than its partition is refused and nothing is left behind") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-disk-").value();
  REQUIRE(write_file_atomic(dir.path() / "root", std::string(3 * MiB, 'R')).has_value());
  REQUIRE(write_file_atomic(dir.path() / "verity", "V").has_value());
  SystemProcessRunner runner;
  NullProgress progress;
  auto result = build_disk_image({.disk = small_disk(),
                                  .root_image = dir.path() / "root",
                                  .verity_image = dir.path() / "verity",
                                  .source_date_epoch = 1700000000,
                                  .output = dir.path() / "a.img"},
                                 runner, progress);
  REQUIRE_FALSE(result.has_value());
  CHECK_THAT(result.error().describe(), Catch::Contains("does not fit partition 'cairn_1'"));
  CHECK_FALSE(fs::exists(dir.path() / "a.img"));
  CHECK_FALSE(fs::exists(dir.path() / ".a.img.partial"));
}
