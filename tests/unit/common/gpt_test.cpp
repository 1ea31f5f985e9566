#include "common/gpt.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/fs.hpp"
#include "common/process.hpp"

using namespace cairn;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t MiB = 1 << 20;

GptDisk sample() {
  return {.disk_guid = "11111111-2222-4333-8444-555555555555",
          .partitions = {
              {.label = "esp",
               .type_guid = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
               .uuid = stable_uuid("esp"),
               .size_bytes = 8 * MiB},
              {.label = "cairn_1",
               .type_guid = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709",
               .uuid = "00010203-0405-0607-0809-0a0b0c0d0e0f",
               .size_bytes = 3 * MiB + 1},
              {.label = "cairn_1_verity",
               .type_guid = "2c7357ed-ebd2-46d9-aec1-23d437ec2bf5",
               .uuid = "10111213-1415-1617-1819-1a1b1c1d1e1f",
               .size_bytes = MiB,
               .attributes = kGptReadOnlyAttribute},
          }};
}

fs::path make_image(const fs::path& dir, const std::string& name, const GptDisk& disk) {
  auto path = dir / name;
  auto fd = open_file(path, O_WRONLY | O_CREAT | O_TRUNC).value();
  REQUIRE(::ftruncate(fd.get(), static_cast<off_t>(disk.size_bytes)) == 0);
  return path;
}

}  // namespace

TEST_CASE("layout arithmetic aligns every partition to 1 MiB and leaves room for the backup GPT") {
  auto disk = plan_layout(sample()).value();
  CHECK(disk.partitions[0].start_bytes == MiB);
  CHECK(disk.partitions[1].start_bytes == 9 * MiB);
  CHECK(disk.partitions[1].size_bytes == 4 * MiB);  // 3 MiB + 1 rounded up
  CHECK(disk.partitions[2].start_bytes == 13 * MiB);
  CHECK(disk.size_bytes == 15 * MiB);
  CHECK(disk.partitions[2].number == 3);
  auto empty = sample();
  empty.partitions[0].size_bytes = 0;
  CHECK_FALSE(plan_layout(empty).has_value());
}

TEST_CASE("write_gpt is read back by sfdisk and by read_gpt, and is deterministic") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-gpt-").value();
  auto disk = plan_layout(sample()).value();
  auto a = make_image(dir.path(), "a.img", disk);
  auto b = make_image(dir.path(), "b.img", disk);
  REQUIRE(write_gpt(a, disk).has_value());
  REQUIRE(write_gpt(b, disk).has_value());
  CHECK(read_file(a).value() == read_file(b).value());

  SystemProcessRunner runner;
  auto text =
      run_checked(runner, {.argv = {"sfdisk", "--json", a.string()}, .capture_stdout = true});
  REQUIRE(text.has_value());
  auto json = nlohmann::json::parse(*text)["partitiontable"];
  CHECK(json["label"] == "gpt");
  CHECK(json["id"] == "11111111-2222-4333-8444-555555555555");
  REQUIRE(json["partitions"].size() == 3);
  CHECK(json["partitions"][1]["name"] == "cairn_1");
  CHECK(json["partitions"][1]["uuid"] == "00010203-0405-0607-0809-0A0B0C0D0E0F");
  CHECK(json["partitions"][1]["type"] == "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709");
  CHECK(json["partitions"][1]["start"] == 9 * 2048);
  CHECK(json["partitions"][2]["attrs"] == "GUID:60");

  auto back = read_gpt(a).value();
  CHECK(back.disk_guid == disk.disk_guid);
  REQUIRE(back.partitions.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(back.partitions[i].label == disk.partitions[i].label);
    CHECK(back.partitions[i].uuid == disk.partitions[i].uuid);
    CHECK(back.partitions[i].type_guid == disk.partitions[i].type_guid);
    CHECK(back.partitions[i].start_bytes == disk.partitions[i].start_bytes);
    CHECK(back.partitions[i].size_bytes == disk.partitions[i].size_bytes);
    CHECK(back.partitions[i].attributes == disk.partitions[i].attributes);
  }
}

TEST_CASE("set_partition_identity rewrites one partition's UUID and name only") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-gpt-").value();
  auto disk = plan_layout(sample()).value();
  auto path = make_image(dir.path(), "a.img", disk);
  REQUIRE(write_gpt(path, disk).has_value());
  REQUIRE(set_partition_identity(path, 2, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "cairn_2")
              .has_value());
  auto back = read_gpt(path).value();
  CHECK(back.partitions[1].uuid == "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
  CHECK(back.partitions[1].label == "cairn_2");
  CHECK(back.partitions[1].start_bytes == disk.partitions[1].start_bytes);
  CHECK(back.partitions[0].uuid == disk.partitions[0].uuid);
  CHECK(back.partitions[2].attributes == kGptReadOnlyAttribute);
}

TEST_CASE("a partition name that would be cut is refused and nothing is written") {
  CHECK(check_gpt_name(std::string(36, 'x')).has_value());
  CHECK_THAT(check_gpt_name(std::string(37, 'x')).error().message(),
             Catch::Contains("37 UTF-16 units") && Catch::Contains("holds 36"));
  std::string accented;
  for (int i = 0; i < 36; ++i) accented += "\xc3\xa9";  // é: two bytes, one unit
  CHECK(check_gpt_name(accented).has_value());
  std::string astral;
  for (int i = 0; i < 19; ++i) astral += "\xf0\x9f\x98\x80";  // beyond the BMP: two units
  CHECK_THAT(check_gpt_name(astral).error().message(), Catch::Contains("38 UTF-16 units"));

  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-gpt-").value();
  auto disk = plan_layout(sample()).value();
  auto path = make_image(dir.path(), "a.img", disk);
  REQUIRE(write_gpt(path, disk).has_value());
  auto before = read_file(path).value();
  auto status = set_partition_identity(path, 2, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
                                       "cairn_" + std::string(31, '1'));
  REQUIRE_FALSE(status.has_value());
  CHECK(status.error().code() == Errc::invalid_input);
  CHECK(read_file(path).value() == before);

  auto long_disk = sample();
  long_disk.partitions[2].label = "cairn_" + std::string(24, '1') + "_verity";
  CHECK_THAT(write_gpt(path, plan_layout(long_disk).value()).error().message(),
             Catch::Contains("GPT name holds 36"));
  CHECK(read_file(path).value() == before);
}

TEST_CASE("read_gpt refuses a disk without GPT, stable_uuid is stable and v4-shaped") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-gpt-").value();
  auto path = make_image(dir.path(), "blank.img", {.size_bytes = 4 * MiB});
  CHECK_FALSE(read_gpt(path).has_value());
  CHECK(stable_uuid("x") == stable_uuid("x"));
  CHECK(stable_uuid("x") != stable_uuid("y"));
  CHECK(stable_uuid("x")[14] == '4');
}

TEST_CASE("read_gpt refuses an empty file without aborting (found by tests/fuzz)") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-gpt-").value();
  fs::path empty = make_image(dir.path(), "empty.img", {.size_bytes = 0});
  auto read = read_gpt(empty);
  REQUIRE_FALSE(read.has_value());
  CHECK_THAT(read.error().describe(), Catch::Contains("empty.img"));
}

TEST_CASE("read_gpt names what is not a disk before libfdisk sees it (issue 19)") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-gpt-").value();
  auto expect = [](const fs::path& path, Errc code, const std::string& reason) {
    auto read = read_gpt(path);
    REQUIRE_FALSE(read.has_value());
    INFO(read.error().describe());
    CHECK(read.error().code() == code);
    CHECK(read.error().describe() == path.string() + reason);
  };
  expect(dir.path() / "nonexistent.img", Errc::not_found, " does not exist");
  expect(dir.path(), Errc::invalid_input, " is neither a disk image file nor a block device");
  REQUIRE(write_file_atomic(dir.path() / "hostname", "localhost"));
  expect(dir.path() / "hostname", Errc::invalid_input,
         " is 9 bytes: too small to be a disk with a GPT");
  expect(make_image(dir.path(), "zeros.img", {.size_bytes = MiB}), Errc::invalid_input,
         " has no GPT partition table");
}
